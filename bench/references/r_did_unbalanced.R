# Reference numbers from the R package `did` (Callaway & Sant'Anna) on an UNBALANCED version of mpdta.
#
# Usage:
#   Rscript bench/references/r_did_unbalanced.R <path/to/mpdta.csv> <output_dir> [provenance.txt]
#
# Needs R with the `did` package (and its dependencies DRDID, BMisc, ...) installed; this script only
# CALLS att_gt()/aggte() and does not install anything. The optional third argument is a plain-text file
# whose lines are copied into versions.txt (e.g. where the packages' sources came from).
#
# Output (in <output_dir>):
#   <case>_attgt.csv  group, time, att, se              (one row per ATT(g,t))
#   <case>_aggte.csv  type, e, att, se                  (simple / dynamic / group / calendar; the overall
#                                                        estimate of each type has e = NA, followed by the
#                                                        per-e rows for dynamic / group / calendar)
#   cases.csv         case, n_rows, n_units, description, call
#   panel_summary.csv counts of the deletion rule
#   versions.txt      R / package versions and date
# Numbers are written with 17 significant digits ("%.17g"); missing values are written as NA.

suppressPackageStartupMessages(library(did))

args <- commandArgs(trailingOnly = TRUE)
if (length(args) < 2) stop("usage: Rscript r_did_unbalanced.R <mpdta.csv> <output_dir> [provenance.txt]")
csv_path <- args[1]
out_dir <- args[2]
prov_path <- if (length(args) >= 3) args[3] else NA_character_
dir.create(out_dir, showWarnings = FALSE, recursive = TRUE)

mpdta <- read.csv(csv_path)
mpdta <- mpdta[order(mpdta$countyreal, mpdta$year), ]
rownames(mpdta) <- NULL

# Deterministic deletion rule: drop the row (county, year) when (countyreal * 31 + year) mod 11 == 0.
drop_rule <- function(d) ((d$countyreal * 31 + d$year) %% 11) == 0

unb <- mpdta[!drop_rule(mpdta), ]
rownames(unb) <- NULL

# Two-period subset: years 2003-2004, units first treated in 2004 or never (first.treat == 0);
# then the same deletion rule.
two_full <- mpdta[mpdta$year %in% c(2003, 2004) & mpdta$first.treat %in% c(0, 2004), ]
two <- two_full[!drop_rule(two_full), ]
rownames(two) <- NULL

count_summary <- function(label, full, kept) {
  per_unit <- table(kept$countyreal)
  n_periods <- length(unique(full$year))
  data.frame(
    panel = label,
    rows_full = nrow(full),
    rows_kept = nrow(kept),
    rows_dropped = nrow(full) - nrow(kept),
    units_full = length(unique(full$countyreal)),
    units_kept = length(unique(kept$countyreal)),
    units_with_missing_rows = sum(per_unit < n_periods),
    units_dropped_entirely = length(unique(full$countyreal)) - length(unique(kept$countyreal)),
    units_complete = sum(per_unit == n_periods)
  )
}
panel_summary <- rbind(
  count_summary("mpdta_unbalanced (all years, all units)", mpdta, unb),
  count_summary("twoperiod (2003-2004, first.treat in {0,2004})", two_full, two)
)

# ---------------------------------------------------------------------------------------------------
# Cases: common arguments shared by all att_gt() calls
common <- list(yname = "lemp", tname = "year", idname = "countyreal", gname = "first.treat",
               panel = TRUE, bstrap = FALSE, cband = FALSE)

cases <- list(
  unb_dr_never = list(data = "unb", args = list(allow_unbalanced_panel = TRUE, est_method = "dr",
    xformla = ~1, control_group = "nevertreated", base_period = "varying")),
  unb_dr_notyet = list(data = "unb", args = list(allow_unbalanced_panel = TRUE, est_method = "dr",
    xformla = ~1, control_group = "notyettreated", base_period = "varying")),
  unb_reg_lpop = list(data = "unb", args = list(allow_unbalanced_panel = TRUE, est_method = "reg",
    xformla = ~lpop, control_group = "nevertreated", base_period = "varying")),
  unb_ipw_lpop = list(data = "unb", args = list(allow_unbalanced_panel = TRUE, est_method = "ipw",
    xformla = ~lpop, control_group = "nevertreated", base_period = "varying")),
  unb_dr_lpop_notyet = list(data = "unb", args = list(allow_unbalanced_panel = TRUE, est_method = "dr",
    xformla = ~lpop, control_group = "notyettreated", base_period = "varying")),
  unb_dr_universal = list(data = "unb", args = list(allow_unbalanced_panel = TRUE, est_method = "dr",
    xformla = ~1, control_group = "nevertreated", base_period = "universal")),
  bal_dr_never = list(data = "unb", args = list(allow_unbalanced_panel = FALSE, est_method = "dr",
    xformla = ~1, control_group = "nevertreated", base_period = "varying")),
  twoperiod_dr = list(data = "two", args = list(allow_unbalanced_panel = TRUE, est_method = "dr",
    xformla = ~1, control_group = "nevertreated", base_period = "varying"))
)

data_desc <- c(
  unb = "mpdta minus rows with (countyreal*31+year) %% 11 == 0",
  two = "mpdta years 2003-2004, first.treat in {0,2004}, minus rows with (countyreal*31+year) %% 11 == 0"
)

fmt <- function(x) {
  out <- ifelse(is.na(x), "NA", sprintf("%.17g", as.numeric(x)))
  out
}

write_num_csv <- function(df, path) {
  for (nm in names(df)) if (is.numeric(df[[nm]])) df[[nm]] <- fmt(df[[nm]])
  write.csv(df, path, row.names = FALSE, quote = FALSE)
}

deparse_call <- function(a) {
  parts <- vapply(names(a), function(nm) {
    v <- a[[nm]]
    s <- if (inherits(v, "formula")) paste(deparse(v), collapse = "") else paste(deparse(v), collapse = "")
    paste0(nm, " = ", s)
  }, character(1))
  paste0("att_gt(", paste(parts, collapse = ", "), ")")
}

case_rows <- list()
for (case in names(cases)) {
  spec <- cases[[case]]
  dat <- if (spec$data == "unb") unb else two
  a <- c(common[c("yname", "tname", "idname", "gname")], list(xformla = spec$args$xformla, data = as.name(spec$data)),
         common["panel"], spec$args[c("allow_unbalanced_panel", "control_group")],
         common[c("bstrap", "cband")], spec$args[c("est_method", "base_period")])
  call_str <- deparse_call(a)
  cat("\n==== ", case, "\n", call_str, "\n", sep = "")

  call_args <- a
  call_args$data <- dat
  res <- withCallingHandlers(
    do.call(att_gt, call_args),
    warning = function(w) { cat("  warning: ", conditionMessage(w), "\n", sep = ""); invokeRestart("muffleWarning") },
    message = function(m) { cat("  message: ", conditionMessage(m), sep = ""); invokeRestart("muffleMessage") }
  )

  attgt <- data.frame(group = res$group, time = res$t, att = res$att, se = as.numeric(res$se))
  write_num_csv(attgt, file.path(out_dir, paste0(case, "_attgt.csv")))

  agg_rows <- list()
  for (type in c("simple", "dynamic", "group", "calendar")) {
    ag <- withCallingHandlers(
      aggte(res, type = type, bstrap = FALSE, cband = FALSE, na.rm = TRUE),
      warning = function(w) { cat("  aggte warning: ", conditionMessage(w), "\n", sep = ""); invokeRestart("muffleWarning") }
    )
    agg_rows[[length(agg_rows) + 1]] <- data.frame(type = type, e = NA_real_, att = ag$overall.att,
                                                   se = ag$overall.se)
    if (type != "simple") {
      agg_rows[[length(agg_rows) + 1]] <- data.frame(type = type, e = ag$egt, att = ag$att.egt,
                                                     se = as.numeric(ag$se.egt))
    }
  }
  agg <- do.call(rbind, agg_rows)
  write_num_csv(agg, file.path(out_dir, paste0(case, "_aggte.csv")))
  cat(sprintf("  simple ATT = %.10f  SE = %.10f  (n units in inffunc = %d)\n",
              agg$att[1], agg$se[1], as.integer(res$n)))

  case_rows[[length(case_rows) + 1]] <- data.frame(
    case = case, n_rows = nrow(dat), n_units = length(unique(dat$countyreal)), n_inffunc = res$n,
    description = data_desc[[spec$data]], call = call_str
  )
}

cases_df <- do.call(rbind, case_rows)
write.csv(cases_df, file.path(out_dir, "cases.csv"), row.names = FALSE)
write.csv(panel_summary, file.path(out_dir, "panel_summary.csv"), row.names = FALSE)

pkgs <- c("did", "DRDID", "BMisc", "data.table", "Matrix", "fastglm", "dreamerr", "trust", "Rcpp")
ver_lines <- c(
  paste0("date: ", format(Sys.time(), "%Y-%m-%d %H:%M:%S %Z")),
  paste0("R: ", R.version.string),
  paste0("platform: ", R.version$platform),
  vapply(pkgs, function(p) {
    v <- tryCatch(as.character(packageVersion(p)), error = function(e) "not installed")
    paste0(p, ": ", v)
  }, character(1)),
  "att_gt faster_mode: TRUE (default)"
)
if (!is.na(prov_path) && file.exists(prov_path)) ver_lines <- c(ver_lines, "", readLines(prov_path))
writeLines(ver_lines, file.path(out_dir, "versions.txt"))
cat("\nwrote", length(cases), "cases to", out_dir, "\n")
