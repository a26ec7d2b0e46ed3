"""Record schemas: age-band mapping, type checks, kind detection, the shared SQL files."""

from __future__ import annotations

import pandas as pd
import pyarrow as pa
import pytest

from evidence.errors import DataError
from evidence.records import sql as sqlmod
from evidence.records.generate import FINE_WEIGHTS
from evidence.records.schema import (
    AGE_BAND_MAP, ATTENDANCES, BROAD_LABELS, FINE_LABELS, SPELLS, canonical_arrow, canonical_duckdb, canonical_spark, check_columns, detect_schema,
)
from evidence.standardise import BANDS, ESP_BANDS


def test_every_age_label_maps_to_a_standardisation_band_and_every_band_is_reached():
    assert set(AGE_BAND_MAP.values()) == set(BANDS)
    assert set(BROAD_LABELS.values()) == set(BANDS) and set(FINE_LABELS.values()) == set(BANDS)
    assert "15-19" not in AGE_BAND_MAP  # straddles 17/18


def test_fine_band_esp_weights_add_up_to_the_shipped_broad_band_weights():
    # the generator's within-band weights are ESP 2013 five-year weights times a gradient; undo the gradient
    gradient = {"0-4": 2.0, "5-9": 0.7, "10-14": 0.8, "15-17": 1.2, "18-19": 1.0, "20-24": 0.9, "25-29": 0.9, "30-34": 0.9, "35-39": 0.9, "40-44": 1.0,
                "45-49": 1.1, "50-54": 1.2, "55-59": 1.4, "60-64": 1.6, "65-69": 1.0, "70-74": 1.3, "75-79": 1.0, "80-84": 1.5, "85-89": 2.1, "90+": 2.6}
    esp = pd.Series({k: FINE_WEIGHTS[k] / gradient[k] for k in FINE_WEIGHTS}).groupby(FINE_LABELS).sum()
    shipped = pd.read_csv(ESP_BANDS).set_index("band")["esp2013_weight"]
    pd.testing.assert_series_equal(esp.reindex(list(BANDS)), shipped.reindex(list(BANDS)), check_names=False)


def test_engine_type_names_reduce_to_the_same_kinds():
    assert canonical_duckdb("VARCHAR") == canonical_spark("StringType") == canonical_arrow(pa.dictionary(pa.int32(), pa.string())) == "string"
    assert canonical_duckdb("BIGINT") == canonical_spark("IntegerType") == canonical_arrow(pa.int32()) == "integer"
    assert canonical_duckdb("DATE") == canonical_spark("DateType") == canonical_arrow(pa.date32()) == "date"
    assert canonical_duckdb("TIMESTAMP WITH TIME ZONE") == canonical_spark("TimestampNTZType") == canonical_arrow(pa.timestamp("us")) == "timestamp"
    assert canonical_duckdb("DOUBLE") == canonical_spark("DoubleType") == canonical_arrow(pa.float64()) == "float"


def _types(schema, **override):
    t = {c.name: c.kinds[0] for c in schema.columns}
    t.update(override)
    return {k: v for k, v in t.items() if v is not None}


def test_check_columns_accepts_the_schema_and_reports_optional_columns():
    assert check_columns(_types(SPELLS), SPELLS, "f.parquet") == {"hrg_code": True, "synthetic": True}
    assert check_columns(_types(SPELLS, hrg_code=None, synthetic=None), SPELLS, "f.parquet") == {"hrg_code": False, "synthetic": False}
    assert check_columns(_types(SPELLS, spell_id="string", admission_date="timestamp"), SPELLS, "f.parquet")["hrg_code"]


def test_missing_and_mistyped_columns_are_one_line_errors_naming_file_and_column():
    with pytest.raises(DataError, match=r"f\.parquet: required column 'lsoa11_code' is missing") as e:
        check_columns(_types(SPELLS, lsoa11_code=None), SPELLS, "f.parquet")
    assert "\n" not in str(e.value)
    with pytest.raises(DataError, match=r"column 'length_of_stay' is float but must be integer \(whole days"):
        check_columns(_types(SPELLS, length_of_stay="float"), SPELLS, "f.parquet")
    with pytest.raises(DataError, match=r"column 'arrival_date' is string but must be date or timestamp"):
        check_columns(_types(ATTENDANCES, arrival_date="string"), ATTENDANCES, "a.parquet")


def test_kind_is_detected_from_the_id_column():
    assert detect_schema(["spell_id", "x"], "f").kind == "spells"
    assert detect_schema(["attendance_id"], "f").kind == "attendances"
    with pytest.raises(DataError, match="neither spell_id nor attendance_id"):
        detect_schema(["episode_id"], "f")
    with pytest.raises(DataError, match="both spell_id and attendance_id"):
        detect_schema(["spell_id", "attendance_id"], "f")


def test_shared_sql_renders_every_slot_and_refuses_unfilled_ones():
    text = sqlmod.render("unknown_codes", records="records", geo_map="geo_map", geo_column="lsoa11_code", date_column="admission_date", start="2016-04-01", end="2019-04-01")
    assert "{" not in text and "LEFT JOIN geo_map" in text
    with pytest.raises(KeyError, match="needs a value"):
        sqlmod.render("unknown_codes", records="records")
    assert sqlmod.quoted_list(["a'b", "c"]) == "'a''b', 'c'"
    with pytest.raises(ValueError):
        sqlmod.ident("records; DROP TABLE x")


def test_data_dictionary_lists_every_column():
    d = SPELLS.data_dictionary()
    assert list(d["column"]) == [c.name for c in SPELLS.columns]
    assert set(d.loc[d["required"] == "yes", "column"]) == set(SPELLS.required)


def test_docs_data_dictionary_is_generated_from_the_schemas():
    from pathlib import Path

    from evidence.records.schema import markdown_dictionary

    text = (Path(__file__).resolve().parents[2] / "docs" / "records.md").read_text(encoding="utf-8")
    start, end = "<!-- records-dictionary:start -->\n", "<!-- records-dictionary:end -->"
    assert text[text.index(start) + len(start): text.index(end)] == markdown_dictionary() + "\n", "docs/records.md is out of date: run make docs"
    for col in ("spell_id", "attendance_id", "lsoa11_code", "length_of_stay", "hrg_code"):
        assert f"| `{col}` |" in text
