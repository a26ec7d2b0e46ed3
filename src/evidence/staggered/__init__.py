"""Staggered-adoption difference-in-differences.

Callaway & Sant'Anna (2021) group-time ATTs (:func:`att_gt` on a long DataFrame, :func:`cs` on a design), the
Sun & Abraham (2021) interaction-weighted event study, the Borusyak, Jaravel & Spiess (2024) imputation estimator,
and the Goodman-Bacon (2021) decomposition of TWFE.

>>> from evidence.staggered import att_gt
>>> res = att_gt(df, yname="lemp", tname="year", idname="countyreal", gname="first.treat")  # doctest: +SKIP
>>> res.tidy(); res.pretest; res.aggregate("dynamic").tidy()  # doctest: +SKIP

Validated against R ``did`` 2.5.1 on ``mpdta`` (``tests/fixtures/did_mpdta``) to 1e-6.
"""

from .aggregate import AggteResult, Overall
from .bacon import BaconResult, bacon_decomposition
from .cs import AttGtResult, Pretest, att_gt
from .from_design import DesignAggte, DesignAttGt, cs
from .imputation import imputation
from .sun_abraham import sun_abraham

__all__ = ["AggteResult", "AttGtResult", "BaconResult", "DesignAggte", "DesignAttGt", "Overall", "Pretest", "att_gt", "bacon_decomposition", "cs", "imputation", "sun_abraham"]
