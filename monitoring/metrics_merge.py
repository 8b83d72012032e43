"""The merge of prometheus_client's multiprocess files at scrape, made fast enough for the 50 ms
budget with a worker's 64 prefork children (benchmarks/metrics_scrape.py).

prometheus_client's MultiProcessCollector.merge parses every entry of every file in Python on each
scrape (~10 us an entry: 65 processes with the GenAI histograms' 16 values a series make 30,000
entries, ~300 ms), then formats each sample with its label escaping (~15 us a sample). Here:
- each file is parsed once (its keys and where their values sit); a later scrape reads its bytes
  and takes the values with numpy, parsing only entries added since;
- values are summed per series over all processes with one numpy bincount;
- the text lines are laid out once by the library itself (its accumulation into cumulative
  buckets and _count, its exposition) while the set of series stays the same; a scrape then
  only fills in the numbers.
The text is the library's, byte for byte but for the order of lines
(monitoring/tests/test_metrics_merge.py compares both on the same files).

The files are append-only while their process lives: a key, once written, keeps its place; the
used size in the header is updated after the entry is written, so reading up to it is safe. A
file replaced by another (a new process with a reused pid after a wipe) has another inode or a
smaller used size, and is parsed again.
"""

import json
import os
import struct
from dataclasses import dataclass, field

import numpy as np
from prometheus_client import generate_latest
from prometheus_client.metrics_core import Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.utils import floatToGoString

_HEADER = struct.Struct("i")
_FIRST_ENTRY = 8
_VALUE_BYTES = 16  # a double value and a double timestamp
# Gauge modes whose values add up over processes, as counters and histograms do. Any other mode
# (max, mostrecent, all, ...) needs per-process values: the library's merge then does it all.
_SUMMED_GAUGE_MODES = frozenset({"sum", "livesum"})


@dataclass
class _FileIndex:
    inode: tuple[int, int]
    used: int = _FIRST_ENTRY
    ids: list[int] = field(default_factory=list)  # series id of each entry
    slots: list[int] = field(default_factory=list)  # where its value is, in doubles
    arrays: tuple[np.ndarray, np.ndarray] | None = None


@dataclass(frozen=True)
class _Series:
    typ: str
    mode: str
    metric_name: str
    sample_name: str
    labels: tuple
    help_text: str


class MultiprocessMerger:
    """Keeps each file's index between scrapes; one per process that answers scrapes."""

    def __init__(self):
        self._files: dict[str, _FileIndex] = {}
        self._series_ids: dict[tuple[str, str, str], int] = {}
        self._series: list[_Series] = []
        self._layout: _Layout | None = None

    def render(self, files: list[str]) -> bytes:
        """The merged families in the Prometheus text format."""
        if any(_kind(path)[1] not in ("", *_SUMMED_GAUGE_MODES) for path in files):
            merged = MultiProcessCollector.merge(files, accumulate=True)
            return generate_latest(_Families(merged))
        present, totals = self._totals(files)
        if not len(present):
            return b""
        if self._layout is None or not np.array_equal(present, self._layout.present):
            self._layout = _Layout.build(present, self._metrics(present, totals), self._series)
        return self._layout.render(totals)

    def _totals(self, files: list[str]) -> tuple[np.ndarray, np.ndarray]:
        ids, values = [], []
        for path in files:
            read = self._read(path)
            if read is not None:
                ids.append(read[0])
                values.append(read[1])
        listed = set(files)
        self._files = {path: index for path, index in self._files.items() if path in listed}
        if not ids:
            return np.array([], dtype=np.intp), np.array([])
        all_ids = np.concatenate(ids)
        totals = np.bincount(all_ids, weights=np.concatenate(values), minlength=len(self._series))
        present = np.flatnonzero(np.bincount(all_ids, minlength=len(self._series)))
        return present, totals

    def _read(self, path: str) -> tuple[np.ndarray, np.ndarray] | None:
        try:
            descriptor = os.open(path, os.O_RDONLY)
        except FileNotFoundError:  # a live gauge file deleted since the listing
            return None
        try:  # os.pread: no buffered file object, ~2x cheaper over 200 small files
            stat = os.fstat(descriptor)
            header = os.pread(descriptor, _FIRST_ENTRY, 0)
            if len(header) < _FIRST_ENTRY:
                return None
            used = _HEADER.unpack_from(header)[0]
            data = os.pread(descriptor, max(used, _FIRST_ENTRY), 0)
        finally:
            os.close(descriptor)
        inode = (stat.st_dev, stat.st_ino)
        index = self._files.get(path)
        if index is None or index.inode != inode or used < index.used:
            index = self._files[path] = _FileIndex(inode=inode)
        if used > index.used:
            self._index_new_entries(path, index, data, used)
        if index.arrays is None:  # an empty file
            return None
        ids, slots = index.arrays
        doubles = np.frombuffer(data, dtype="<f8", count=len(data) // 8)
        return ids, doubles[slots]

    def _index_new_entries(self, path: str, index: _FileIndex, data: bytes, used: int) -> None:
        typ, mode = _kind(path)
        position = index.used
        while position < used:
            length = _HEADER.unpack_from(data, position)[0]
            if position + 4 + length > used:
                raise RuntimeError(f"{path}: an entry runs past the used size; file corrupted")
            key = data[position + 4 : position + 4 + length].decode("utf-8")
            position += 4 + length + (8 - (length + 4) % 8)
            index.ids.append(self._series_id(typ, mode, key))
            index.slots.append(position // 8)
            position += _VALUE_BYTES
        index.used = used
        index.arrays = (np.array(index.ids, dtype=np.intp), np.array(index.slots, dtype=np.intp))

    def _series_id(self, typ: str, mode: str, key: str) -> int:
        found = self._series_ids.get((typ, mode, key))
        if found is None:
            metric_name, sample_name, labels, help_text = json.loads(key)
            labels_key = tuple(sorted(labels.items()))
            series = _Series(typ, mode, metric_name, sample_name, labels_key, help_text)
            found = self._series_ids[(typ, mode, key)] = len(self._series)
            self._series.append(series)
        return found

    def _metrics(self, present: np.ndarray, totals: np.ndarray):
        metrics: dict[str, Metric] = {}
        for series_id in present.tolist():
            series = self._series[series_id]
            metric = metrics.get(series.metric_name)
            if metric is None:
                metric = metrics[series.metric_name] = Metric(
                    series.metric_name, series.help_text, series.typ
                )
                metric._multiprocess_mode = series.mode  # read by the accumulation for gauges
            metric.add_sample(series.sample_name, series.labels, float(totals[series_id]))
        # The library's accumulation (cumulative buckets, _count), over one copy of each series.
        return MultiProcessCollector._accumulate_metrics(metrics, accumulate=True)


class _Families:
    """Already merged families, as a collector for generate_latest."""

    def __init__(self, families):
        self.families = list(families)

    def collect(self):
        return self.families


class _Layout:
    """The text of a scrape with its numbers left out, for one set of series: each sample line's
    start (name and labels, as the library writes them) and where its number comes from: a
    series' own total, or a histogram's cumulative bucket or count."""

    def __init__(self, *, present, heads, prefixes, plain, buckets, starts, picks):
        self.present = present
        self.heads = heads  # the "# HELP" / "# TYPE" lines before each sample line, or ""
        self.prefixes = prefixes
        self.plain = np.array(plain, dtype=np.intp)  # series printed with their own total
        self.buckets = np.array(buckets, dtype=np.intp)  # every histogram's buckets, in order
        self.starts = np.array(starts, dtype=np.intp)  # where each histogram starts in buckets
        self.picks = np.array(picks, dtype=np.intp)  # per line, into [plain, cumulative, counts]
        self._values = np.full(len(prefixes), np.nan)  # the numbers of the lines below
        self._lines = [""] * len(prefixes)

    @classmethod
    def build(cls, present, families, series: list[_Series]) -> "_Layout":
        families = list(families)
        groups = _bucket_groups(present, series)
        buckets, starts, offsets = [], [], {}
        for number, (key, members) in enumerate(groups.items()):
            offsets[key] = (number, len(buckets), [bound for bound, _ in members])
            starts.append(len(buckets))
            buckets.extend(i for _, i in members)
        by_sample = {(series[i].sample_name, series[i].labels): i for i in present.tolist()}
        lines = iter(generate_latest(_Families(families)).decode("utf-8").splitlines())
        plain, picks, heads, prefixes = [], [], [], []
        for family in families:
            head = f"{next(lines)}\n{next(lines)}\n"  # its "# HELP" and "# TYPE" lines
            for sample in family.samples:
                prefixes.append(next(lines).rsplit(" ", 1)[0])
                heads.append(head)
                head = ""
                kind, where = _source(family, sample, by_sample, offsets, plain)
                base = {"plain": 0, "bucket": None, "count": None}[kind]
                picks.append((kind, where) if base is None else (kind, base + where))
        n_plain, n_buckets = len(plain), len(buckets)
        shift = {"plain": 0, "bucket": n_plain, "count": n_plain + n_buckets}
        return cls(
            present=present,
            heads=heads,
            prefixes=prefixes,
            plain=plain,
            buckets=buckets,
            starts=starts,
            picks=[shift[kind] + where for kind, where in picks],
        )

    def render(self, totals: np.ndarray) -> bytes:
        cumulative, counts = _cumulative_buckets(totals[self.buckets], self.starts)
        values = np.concatenate([totals[self.plain], cumulative, counts])[self.picks]
        # Between two scrapes most series did not move: only their lines are written again
        # (NaN never equals itself, so the first render writes every line).
        changed = np.flatnonzero(values != self._values)
        for line, value in zip(changed.tolist(), values[changed].tolist(), strict=True):
            number = floatToGoString(value)
            self._lines[line] = f"{self.heads[line]}{self.prefixes[line]} {number}\n"
        self._values = values
        return "".join(self._lines).encode("utf-8")


def _cumulative_buckets(values: np.ndarray, starts: np.ndarray):
    """Each histogram's buckets summed up to each bound (Prometheus buckets are cumulative),
    and its count (the last of them). Added in bound order, as the library adds them."""
    if not len(values):
        return np.array([]), np.array([])
    lengths = np.diff(np.append(starts, len(values)))
    cumulative = np.empty_like(values)
    for start, length in zip(starts.tolist(), lengths.tolist(), strict=True):
        cumulative[start : start + length] = np.cumsum(values[start : start + length])
    return cumulative, cumulative[starts + lengths - 1]


def _bucket_groups(present, series: list[_Series]) -> dict:
    """Each histogram's bucket series, by (metric, labels but le), as (bound, id) by bound."""
    groups: dict[tuple, list[tuple[float, int]]] = {}
    for i in present.tolist():
        item = series[i]
        if item.typ == "histogram" and item.sample_name.endswith("_bucket"):
            bound = float(dict(item.labels)["le"])
            rest = tuple(label for label in item.labels if label[0] != "le")
            groups.setdefault((item.metric_name, rest), []).append((bound, i))
    return {key: sorted(members) for key, members in groups.items()}


def _source(family, sample, by_sample, offsets, plain) -> tuple[str, int]:
    """Where a sample line's number comes from (see _Layout)."""
    labels = tuple(sorted(sample.labels.items()))
    if family.type == "histogram" and sample.name.endswith(("_bucket", "_count")):
        rest = tuple(label for label in labels if label[0] != "le")
        number, start, bounds = offsets[(family.name, rest)]
        if sample.name.endswith("_count"):
            return "count", number
        return "bucket", start + bounds.index(float(sample.labels["le"]))
    plain.append(by_sample[(sample.name, labels)])
    return "plain", len(plain) - 1


def _kind(path: str) -> tuple[str, str]:
    """("counter", "") for counter_123.db, ("gauge", "livesum") for gauge_livesum_123.db."""
    parts = os.path.basename(path).split("_")
    return (parts[0], parts[1]) if parts[0] == "gauge" else (parts[0], "")
