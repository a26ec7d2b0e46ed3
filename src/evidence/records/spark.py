"""Spark sessions for the record pipeline: check the master URL first, then start (or reuse) a session.

Spark reports an unreachable master late (after retries) and as a Java stack trace. Here the master URL
(``data.records.spark_master``) is checked before any JVM starts: its form, and for network masters a TCP
connection to the host and port with a short timeout. Failures are one-line :class:`DataError` messages naming
``data.records.spark_master``.

Supported masters: ``local``, ``local[N]``, ``local[*]`` (a local session in this process); ``spark://host:port``
(standalone cluster; several ``host:port`` separated by commas for a high-availability master); ``k8s://https://host:port``
(Kubernetes); ``yarn`` (needs ``HADOOP_CONF_DIR`` or ``YARN_CONF_DIR``); ``sc://host:port`` (Spark Connect; needs
the Spark Connect client extras: ``pip install "pyspark[connect]"``).
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import warnings
from typing import Any
from urllib.parse import urlparse

from ..errors import DataError

PARAM = "data.records.spark_master"
CONNECT_TIMEOUT = 5.0
_LOCAL = re.compile(r"^local(\[(\*|[1-9]\d*)(,\s*[1-9]\d*)?\])?$")


def is_local(master: str) -> bool:
    """Whether ``master`` starts Spark inside this process (``local``, ``local[N]``, ``local[*]``)."""
    return bool(_LOCAL.match(master))


def _host_port(text: str, default_port: int | None) -> tuple[str, int]:
    host, _, port = text.rpartition(":") if ":" in text else (text, "", "")
    if not host:
        host, port = text, ""
    if not port:
        if default_port is None:
            raise ValueError("no port")
        return host, default_port
    return host.strip("[]"), int(port)


def _probe(master: str, targets: list[tuple[str, int]], timeout: float) -> None:
    errors = []
    for host, port in targets:
        try:
            with socket.create_connection((host, port), timeout=timeout):
                return
        except OSError as exc:
            reason = exc.strerror or exc.__class__.__name__
            if isinstance(exc, (socket.timeout, TimeoutError)):
                reason = f"no answer within {timeout:g} s"
            errors.append(f"{host}:{port} ({reason})")
    raise DataError(f"{PARAM} {master!r}: cannot reach the Spark master at {'; '.join(errors)}; start the master, correct the URL, or use local[2] to run Spark inside this process.")


def check_master(master: str, timeout: float = CONNECT_TIMEOUT) -> str:
    """Check a Spark master URL before starting Spark; return its kind.

    Parameters
    ----------
    master
        The master URL (``data.records.spark_master``).
    timeout
        Seconds to wait for a TCP connection to a network master.

    Returns
    -------
    str
        ``local``, ``standalone``, ``k8s``, ``yarn`` or ``connect``.

    Raises
    ------
    DataError
        Malformed URL, unreachable host/port, missing YARN configuration.
    """
    m = master.strip()
    if is_local(m):
        return "local"
    try:
        if m.startswith("spark://"):
            targets = [_host_port(part, 7077) for part in m[len("spark://"):].split(",") if part]
            if not targets:
                raise ValueError("no host")
            _probe(master, targets, timeout)
            return "standalone"
        if m.startswith("k8s://"):
            url = m[len("k8s://"):]
            u = urlparse(url if "://" in url else f"https://{url}")
            if not u.hostname:
                raise ValueError("no host")
            _probe(master, [(u.hostname, u.port or (443 if u.scheme == "https" else 80))], timeout)
            return "k8s"
        if m.startswith("sc://"):
            u = urlparse(m)
            if not u.hostname:
                raise ValueError("no host")
            _probe(master, [(u.hostname, u.port or 15002)], timeout)
            return "connect"
    except ValueError:
        raise DataError(f"{PARAM} {master!r} is not a valid master URL; use local[2], spark://host:7077, k8s://https://host:6443, yarn or sc://host:15002.") from None
    if m == "yarn":
        if not (os.environ.get("HADOOP_CONF_DIR") or os.environ.get("YARN_CONF_DIR")):
            raise DataError(f"{PARAM} 'yarn' needs HADOOP_CONF_DIR or YARN_CONF_DIR pointing at the cluster's configuration; set one, or use a spark:// or local master.")
        return "yarn"
    raise DataError(f"{PARAM} {master!r} is not a master Spark understands; use local[2], spark://host:7077, k8s://https://host:6443, yarn or sc://host:15002.")


def java_available() -> bool:
    """Whether a ``java`` executable is on ``JAVA_HOME`` or ``PATH`` (Spark needs Java 17+)."""
    home = os.environ.get("JAVA_HOME")
    if home and os.path.isfile(os.path.join(home, "bin", "java")):
        return True
    return shutil.which("java") is not None


def pyspark_available() -> bool:
    """Whether pyspark can be imported."""
    try:
        import pyspark  # noqa: F401
    except ImportError:
        return False
    return True


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:300] if text else exc.__class__.__name__


def get_session(master: str | None, *, memory_limit: str | None = None, temp_dir: str | None = None, conf: dict[str, str] | None = None) -> tuple[Any, bool]:
    """A Spark session for ``master``: the active one if it matches, otherwise a new one.

    Parameters
    ----------
    master
        Master URL; ``None`` reuses the active session or starts ``local[*]``.
    memory_limit
        Driver memory for a local session (``spark.driver.memory``) or executor memory on a cluster
        (``spark.executor.memory``), e.g. ``4g``; only applied when a new session starts.
    temp_dir
        Spill folder (``spark.local.dir``) for a local session.
    conf
        Further Spark settings for a new session.

    Returns
    -------
    (SparkSession, started)
        ``started`` is true when this call started the session (the caller stops it when done).

    Raises
    ------
    DataError
        pyspark or Java missing, a bad or unreachable master, another session with a different master already
        running in this process, or a failure while starting (first line of Spark's message).
    """
    if not pyspark_available():
        raise DataError("engine spark needs pyspark (pip install pyspark), which is not installed; install it or use data.records.engine: duckdb.")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        from pyspark.sql import SparkSession

    active = SparkSession.getActiveSession()
    if active is not None:
        have = active.sparkContext.master
        if master is None or master == have:
            return active, False
        raise DataError(f"{PARAM} {master!r}: a Spark session with master {have!r} is already running in this process; stop it first or use the same master.")
    master = master or "local[*]"
    kind = check_master(master)
    if kind != "connect" and not java_available():
        raise DataError(f"{PARAM} {master!r}: Spark needs Java 17 or later and no java was found on JAVA_HOME or PATH; install a JDK or use data.records.engine: duckdb.")
    if kind == "connect":
        try:
            import grpc  # noqa: F401
        except ImportError:
            raise DataError(f"{PARAM} {master!r}: Spark Connect needs the client extras (pip install \"pyspark[connect]\"); install them or give a spark:// master.") from None
        builder = SparkSession.builder.remote(master)
    else:
        builder = SparkSession.builder.master(master).appName("evidence-records")
        settings = {"spark.ui.enabled": "false", "spark.sql.session.timeZone": "UTC", "spark.ui.showConsoleProgress": "false"}
        if kind == "local":
            settings.update({"spark.driver.host": "127.0.0.1", "spark.driver.bindAddress": "127.0.0.1", "spark.sql.shuffle.partitions": "4"})
            if memory_limit:
                settings["spark.driver.memory"] = memory_limit
            if temp_dir:
                settings["spark.local.dir"] = str(temp_dir)
        elif memory_limit:
            settings["spark.executor.memory"] = memory_limit
        settings.update(conf or {})
        for k, v in settings.items():
            builder = builder.config(k, v)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)
            session = builder.getOrCreate()
    except Exception as exc:  # Py4J / Spark errors: reduce to one line
        raise DataError(f"{PARAM} {master!r}: Spark did not start: {_first_line(exc)}; check the master URL and the cluster, or use local[2].") from None
    if kind != "connect":
        session.sparkContext.setLogLevel("ERROR")
    return session, True
