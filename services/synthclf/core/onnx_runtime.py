"""Run an exported classifier (``model.onnx`` + tokenizer + ``labels.json``) with onnxruntime.

The one home of ONNX Runtime inference: the inference service wraps :class:`OnnxClassifier`
with its dynamic batcher and model repository, the analysis service runs it in process, and
training's export runs its parity check and int8 measurement through it (same tokenization,
padding and runs as the services). The folder layout is the one the training service's ONNX export
writes (an ``onnx-model`` artifact). Texts are sorted by token length and cut into runs by a
cost model (:func:`plan_runs`) so short texts are not padded to the longest one (on CPU,
padding to the longest text of a batch wastes more than batching saves; measured in
benchmarks/README.md); results come back in input order.
"""

from __future__ import annotations

import ctypes
import functools
import json
import logging
import time
from pathlib import Path

import numpy as np
import onnxruntime as ort
from onnx import TensorProto, helper
from transformers import AutoTokenizer

from synthclf.core.config import Settings, get_settings
from synthclf.core.errors import IntegrityError, InvalidInput, SynthclfError
from synthclf.core.limits import check_labels, truncate

logger = logging.getLogger("synthclf.inference")

CUDA = "CUDAExecutionProvider"
CPU = "CPUExecutionProvider"
#: Default most texts per onnxruntime run.
MAX_SUB_BATCH = 32
#: Truncation length of exports without a ``parity.json`` (older exports).
DEFAULT_MAX_LENGTH = 128
#: Fixed cost of one run in token-equivalents when not measured: all-MiniLM-L6-v2 on 2 vCPU
#: (AMD EPYC), ~1.8 ms per run against ~0.16 ms per padded token. Each loaded model measures
#: its own (:meth:`OnnxClassifier.measure_run_overhead`).
RUN_OVERHEAD_TOKENS = 11
#: Bounds of a measured run overhead, token-equivalents. The floor guards against timings
#: disturbed by other processes: on a loaded 2-vCPU machine single measurements of the int8
#: MiniLM ranged 1–46 (median ≈ 15), and an estimate near 1 made the planner cut batches of
#: 16–30 texts into runs of 1.6 texts (benchmarks/README.md, "Development runs").
OVERHEAD_BOUNDS = (8.0, 4096.0)
#: Most padded tokens per run: beyond ~2048 the CPU cost per token rises (cache misses).
MAX_TOKENS_PER_RUN = 2048
#: ONNX IR version of the CUDA probe graph (IR 8 = opset 17's release, readable by any ORT).
PROBE_IR_VERSION = 8
#: Largest truncation length accepted from ``parity.json`` when the tokenizer states none.
MAX_LENGTH_LIMIT = 8192
#: ONNX Runtime session config entries of every classifier. Idle intra-op threads sleep
#: instead of spinning: on a CPU shared with gRPC handler threads (or other processes)
#: spinning halved throughput (benchmarks/README.md).
SESSION_CONFIG = {"session.intra_op.allow_spinning": "0"}
#: The fp32 graph of an export (always present).
FP32_GRAPH = "model.onnx"
#: The dynamic-int8 copy an export writes on request, beside the fp32 graph.
INT8_GRAPH = "model.int8.onnx"


def _cuda_library_error() -> str | None:
    """Why onnxruntime's CUDA provider library cannot be loaded, or None if it can.

    Loading it with :mod:`ctypes` first (as onnxruntime itself would) finds a missing CUDA or
    cuDNN library quietly: a session asked for CUDA without them logs an ERROR and a WARNING
    line on every CPU-only machine before falling back.
    """
    library = Path(ort.__file__).parent / "capi" / "libonnxruntime_providers_cuda.so"
    if not library.is_file():
        return f"{library.name} is not installed"
    try:
        ctypes.CDLL(str(library))
    except OSError as exc:  # e.g. "libcublasLt.so.13: cannot open shared object file"
        return str(exc).replace(f"{library}: ", "")
    return None


@functools.cache
def _cuda_works() -> tuple[bool, str]:
    """Whether a session really initialises on CUDA, with the reason (probed once).

    onnxruntime-gpu lists CUDAExecutionProvider even where no GPU or CUDA library exists and
    then silently falls back to CPU, so a tiny Identity graph is opened and the provider the
    session actually got is read back.
    """
    if CUDA not in ort.get_available_providers():
        return False, f"onnxruntime {ort.__version__} has no CUDAExecutionProvider"
    if missing := _cuda_library_error():
        return False, f"the CUDA execution provider's libraries cannot be loaded ({missing})"
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])
    graph = helper.make_graph([helper.make_node("Identity", ["x"], ["y"])], "probe", [x], [y])
    # IR 8 pairs with opset 17; onnx 1.23 would stamp IR 14, which onnxruntime 1.31 refuses.
    probe = helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=PROBE_IR_VERSION
    )
    options = ort.SessionOptions()
    options.log_severity_level = 4
    try:
        session = ort.InferenceSession(
            probe.SerializeToString(), options, providers=[CUDA, CPU]
        )
    except Exception as exc:  # onnxruntime raises plain RuntimeError/Fail subclasses
        return False, f"CUDAExecutionProvider failed to initialise ({exc})"
    if session.get_providers()[0] != CUDA:
        return False, (
            "CUDAExecutionProvider is listed but did not initialise (no CUDA device, or its "
            "CUDA/cuDNN libraries are missing; onnxruntime logs which)"
        )
    return True, "CUDAExecutionProvider initialised on a CUDA device"


def select_providers(prefer_gpu: bool = True) -> list[str]:
    """onnxruntime execution providers to use: CUDA when it really works, else CPU.

    Args:
        prefer_gpu: try CUDAExecutionProvider first; False forces CPU.

    Returns:
        ``["CUDAExecutionProvider", "CPUExecutionProvider"]`` or ``["CPUExecutionProvider"]``.
    """
    if not prefer_gpu:
        logger.info("using CPUExecutionProvider: GPU not requested")
        return [CPU]
    works, reason = _cuda_works()
    if works:
        logger.info("using CUDAExecutionProvider: %s", reason)
        return [CUDA, CPU]
    logger.info("using CPUExecutionProvider: %s", reason)
    return [CPU]


def _softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise softmax in float32, shifted by the row max for stability."""
    shifted = logits - logits.max(axis=-1, keepdims=True)
    exp = np.exp(shifted, dtype=np.float32)
    return exp / exp.sum(axis=-1, keepdims=True)


def plan_runs(lengths: np.ndarray, max_batch_size: int, overhead_tokens: float = RUN_OVERHEAD_TOKENS,
              max_tokens: int = MAX_TOKENS_PER_RUN) -> list[np.ndarray]:
    """Cut texts into ONNX Runtime runs by length, so short texts are not padded to long ones.

    Texts are sorted by length; a run costs ``overhead_tokens + size × longest`` (padded
    tokens), and the split of the sorted texts into consecutive runs of at most
    ``max_batch_size`` texts and ``max_tokens`` padded tokens that minimises the total cost is
    found by dynamic programming (O(n · max_batch_size)).

    Args:
        lengths: int [n] tokens per text (n ≥ 1).
        max_batch_size: most texts per run (≥ 1).
        overhead_tokens: fixed cost of one run, in token-equivalents.
        max_tokens: most padded tokens per run (a single longer text still gets a run).

    Returns:
        Row indices into ``lengths``, one int64 array per run, shortest texts first.
    """
    order = np.argsort(lengths, kind="stable")
    sorted_lengths = np.asarray(lengths, dtype=np.float64)[order]
    n = len(order)
    best = np.zeros(n + 1)
    cut = np.zeros(n + 1, dtype=np.int64)
    for end in range(1, n + 1):
        longest = sorted_lengths[end - 1]
        most = max(1, min(max_batch_size, int(max_tokens // max(longest, 1.0))))
        starts = np.arange(max(0, end - most), end)
        costs = best[starts] + overhead_tokens + (end - starts) * longest
        pick = int(np.argmin(costs))
        best[end], cut[end] = costs[pick], starts[pick]
    runs, end = [], n
    while end > 0:
        runs.append(order[cut[end]:end])
        end = int(cut[end])
    return runs[::-1]


def max_length_of(folder: Path) -> int:
    """Truncation length the model was exported and checked with (``parity.json``).

    Falls back to :data:`DEFAULT_MAX_LENGTH` (with a warning) for folders without it.

    Raises:
        IntegrityError: ``parity.json`` exists but holds no integer ``max_length`` in
            [1, :data:`MAX_LENGTH_LIMIT`].
    """
    path = Path(folder) / "parity.json"
    if not path.is_file():
        logger.warning("%s has no parity.json; truncating texts to %d tokens", folder,
                       DEFAULT_MAX_LENGTH)
        return DEFAULT_MAX_LENGTH
    try:
        value = json.loads(path.read_text()).get("max_length", DEFAULT_MAX_LENGTH)
    except (ValueError, AttributeError, RecursionError) as exc:
        raise IntegrityError(f"parity.json is not a JSON object: {exc}") from exc
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= MAX_LENGTH_LIMIT:
        raise IntegrityError(f"parity.json: max_length must be an integer in [1, "
                             f"{MAX_LENGTH_LIMIT}], got {str(value)[:32]}")
    return value


class OnnxClassifier:
    """A text classifier loaded from an exported folder.

    Texts are tokenized by :meth:`encode` (callable from many threads at once) and run by
    :meth:`run` (one ONNX Runtime run, padded to its longest text); :meth:`predict_batch`
    does both, cutting the texts into runs with :func:`plan_runs`.

    Attributes:
        folder: the model folder.
        graph: the graph file run, :data:`FP32_GRAPH` or :data:`INT8_GRAPH`.
        labels: label names in logit order (from ``labels.json``).
        execution_provider: the provider the session actually runs on
            (``session.get_providers()[0]``).
        max_length: truncation length in tokens.
        max_batch_size: most texts per run in :meth:`predict_batch`.
        input_names: the graph's inputs, the rows of every :meth:`encode` array.
    """

    def __init__(
        self,
        folder: Path,
        providers: list[str] | None = None,
        max_length: int | None = None,
        max_batch_size: int = MAX_SUB_BATCH,
        intra_op_threads: int = 0,
        settings: Settings | None = None,
        graph: str = FP32_GRAPH,
    ):
        """Load ``graph`` (``model.onnx``), the tokenizer and ``labels.json`` from ``folder``.

        One warm-up text is run, so a graph that fails, outputs NaN or infinite logits, or
        whose output width does not match the labels is refused here rather than on the first
        request. Messages name the folder's files, never the server's paths.

        Args:
            folder: folder written by ``export_onnx``.
            providers: onnxruntime providers; None: :func:`select_providers`.
            max_length: truncation length in tokens; None: the export's (``parity.json``).
            max_batch_size: most texts per run in :meth:`predict_batch` (≥ 1).
            intra_op_threads: ONNX Runtime threads per run; 0: its default (one per core).
            settings: the label limits and ``max_tokenized_chars``; None: from the environment.
            graph: file name of the graph in ``folder``: :data:`FP32_GRAPH` or the int8 copy
                :data:`INT8_GRAPH`.

        Raises:
            IntegrityError: the graph or ``labels.json`` is missing or unreadable, the
                graph expects inputs the tokenizer does not produce, the number of labels
                differs from the width of the ``logits`` output, ``max_length`` exceeds the
                tokenizer's, or the warm-up run fails or gives non-finite logits.
            InvalidInput: labels.json has duplicate labels, too many, or too long ones.
        """
        self.folder = Path(folder)
        if graph not in (FP32_GRAPH, INT8_GRAPH):
            raise InvalidInput(f"graph must be {FP32_GRAPH} or {INT8_GRAPH}, got {str(graph)[:64]}")
        self.graph = graph
        self.max_batch_size = max(1, max_batch_size)
        settings = settings or get_settings()
        self.max_chars = settings.max_tokenized_chars
        onnx_path, labels_path = self.folder / graph, self.folder / "labels.json"
        for path in (onnx_path, labels_path):
            if not path.is_file():
                raise IntegrityError(f"the model folder lacks {path.name}")
        self.max_length = max_length or max_length_of(self.folder)
        try:
            raw_labels = json.loads(labels_path.read_text())
        except (ValueError, TypeError, RecursionError) as exc:
            raise IntegrityError(f"labels.json is not JSON: {exc}") from exc
        if not isinstance(raw_labels, list):
            raise IntegrityError(f"labels.json is a JSON {type(raw_labels).__name__}, not a list")
        self.labels: list[str] = check_labels(raw_labels, settings, "labels.json")
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(self.folder, local_files_only=True)
        except Exception as exc:  # tokenizers raise Exception subclasses of many kinds
            logger.warning("cannot load the tokenizer in %s: %s", self.folder, exc)
            raise IntegrityError("the model folder's tokenizer cannot be loaded") from exc
        stated = getattr(self.tokenizer, "model_max_length", None)
        if isinstance(stated, int) and stated < 1_000_000 and self.max_length > stated:
            raise IntegrityError(f"max_length {self.max_length} exceeds the tokenizer's "
                                 f"model_max_length {stated}")
        options = ort.SessionOptions()
        for key, value in SESSION_CONFIG.items():
            options.add_session_config_entry(key, value)
        options.intra_op_num_threads = max(0, intra_op_threads)
        try:
            self.session = ort.InferenceSession(
                str(onnx_path), options, providers=providers or select_providers()
            )
        except Exception as exc:  # onnxruntime's InvalidProtobuf/Fail are not exported types
            logger.warning("cannot load %s: %s", onnx_path, exc)
            raise IntegrityError(f"{graph} is not an ONNX model ONNX Runtime can load") from exc
        self.execution_provider: str = self.session.get_providers()[0]
        self.input_names = [i.name for i in self.session.get_inputs()]
        missing = set(self.input_names) - set(self.tokenizer(["a"]).keys())
        if missing:
            raise IntegrityError(f"{graph} expects inputs {sorted(missing)[:8]} that the "
                                 "folder's tokenizer does not produce")
        if "logits" not in {o.name for o in self.session.get_outputs()}:
            raise IntegrityError(f"{graph} has no 'logits' output (not a classifier export)")
        pad_id = self.tokenizer.pad_token_id or 0
        self._pad = np.array([pad_id if n == "input_ids" else 0 for n in self.input_names],
                             dtype=np.int64)
        self._left = self.tokenizer.padding_side == "left"
        self._warm_up()
        self.run_overhead_tokens = self.measure_run_overhead()
        logger.info("loaded %s: %d labels on %s, max_length %d, a run costs as much as %.0f "
                    "tokens", onnx_path, len(self.labels), self.execution_provider,
                    self.max_length, self.run_overhead_tokens)

    def _warm_up(self) -> None:
        """Run a short text and one of ``max_length`` tokens; refuse a graph that fails on
        them (e.g. fewer position embeddings than ``max_length``) or gives non-finite logits.

        Raises:
            IntegrityError: the run fails (ONNX Runtime's error goes to the log), the output
                width differs from the labels, or a probability is NaN or infinite.
        """
        try:
            probabilities = self.run(self.encode(["warm-up", " ".join(["a"] * self.max_length)]))
        except SynthclfError:
            raise
        except Exception as exc:  # onnxruntime's Fail/RuntimeException are not exported types
            logger.warning("warm-up run of %s failed: %s", self.folder / self.graph, exc)
            raise IntegrityError(f"{self.graph} fails to run on a warm-up text (ONNX Runtime "
                                 "error; the server log has it)") from exc
        if not np.isfinite(probabilities).all():
            raise IntegrityError(f"{self.graph} outputs non-finite logits (NaN or infinity) on a "
                                 "warm-up text")

    def measure_run_overhead(self, tokens: int = 16, texts: int = 8, repeats: int = 5) -> float:
        """Fixed cost of one run in token-equivalents, for :func:`plan_runs`.

        Times runs of 1 and of ``texts`` texts of ``tokens`` tokens (best of ``repeats``, so
        other processes disturb it little) and fits ``time = overhead + per_token × tokens``.
        On CPU a run costs about as much as ten to twenty tokens; on CUDA, hundreds.

        Returns:
            The overhead, within :data:`OVERHEAD_BOUNDS`; :data:`RUN_OVERHEAD_TOKENS` when the
            timings are unusable (the larger run was not slower).
        """
        probe = self.encode([" ".join(["word"] * tokens)])[0][:, :tokens]

        def best(n: int) -> float:
            """Shortest of ``repeats`` runs of ``n`` probe texts, seconds."""
            times = []
            for _ in range(repeats):
                start = time.perf_counter()
                self.run([probe] * n)
                times.append(time.perf_counter() - start)
            return min(times)

        one, many = best(1), best(texts)
        per_token = (many - one) / ((texts - 1) * probe.shape[1])
        if per_token <= 0:
            return float(RUN_OVERHEAD_TOKENS)
        return float(np.clip(one / per_token - probe.shape[1], *OVERHEAD_BOUNDS))

    def encode(self, texts: list[str]) -> list[np.ndarray]:
        """Tokenize texts (cut to ``max_tokenized_chars`` characters, then truncated to
        ``max_length`` tokens), one array per text.

        Args:
            texts: strings.

        Returns:
            Per text an int64 array [len(input_names), tokens].
        """
        enc = self.tokenizer(truncate(texts, self.max_chars), truncation=True,
                             max_length=self.max_length)
        columns = [enc[name] for name in self.input_names]
        return [np.array([column[i] for column in columns], dtype=np.int64)
                for i in range(len(texts))]

    def feed(self, rows: list[np.ndarray]) -> dict[str, np.ndarray]:
        """The graph's inputs for one run: encoded texts padded to the longest of them.

        Args:
            rows: arrays from :meth:`encode` (at least one).

        Returns:
            Per input name an int64 array [len(rows), longest], padded with the tokenizer's
            pad id (``input_ids``) or 0, on the tokenizer's padding side.
        """
        width = max(row.shape[1] for row in rows)
        feed = np.empty((len(self.input_names), len(rows), width), dtype=np.int64)
        feed[:] = self._pad[:, None, None]
        for j, row in enumerate(rows):
            if self._left:
                feed[:, j, width - row.shape[1]:] = row
            else:
                feed[:, j, : row.shape[1]] = row
        return dict(zip(self.input_names, feed))

    def logits(self, rows: list[np.ndarray]) -> np.ndarray:
        """One ONNX Runtime run over encoded texts (:meth:`feed`): float32 logits.

        Args:
            rows: arrays from :meth:`encode` (at least one).

        Returns:
            float32 [len(rows), len(labels)] logits, in ``rows`` order.

        Raises:
            IntegrityError: the model's output is not [len(rows), len(labels)].
        """
        logits = self.session.run(["logits"], self.feed(rows))[0]
        if logits.ndim != 2 or logits.shape[0] != len(rows):
            raise IntegrityError(f"{self.graph} outputs logits of shape {list(logits.shape)[:4]}, "
                                 f"not [{len(rows)}, {len(self.labels)}]")
        if logits.shape[-1] != len(self.labels):
            raise IntegrityError(
                f"labels.json has {len(self.labels)} labels but the model outputs "
                f"{logits.shape[-1]} logits"
            )
        return logits.astype(np.float32, copy=False)

    def run(self, rows: list[np.ndarray]) -> np.ndarray:
        """One ONNX Runtime run over encoded texts, padded to the longest of them.

        Args:
            rows: arrays from :meth:`encode` (at least one).

        Returns:
            float32 [len(rows), len(labels)] softmax probabilities, in ``rows`` order.

        Raises:
            IntegrityError: the model's output width differs from the number of labels.
        """
        return _softmax(self.logits(rows))

    def plan(self, lengths: np.ndarray, max_batch_size: int | None = None) -> list[np.ndarray]:
        """:func:`plan_runs` with this model's run overhead (CPU or GPU)."""
        return plan_runs(lengths, max_batch_size or self.max_batch_size, self.run_overhead_tokens)

    def predict_batch(self, texts: list[str]) -> np.ndarray:
        """Class probabilities for each text (tokenize, plan runs by length, run them).

        Args:
            texts: texts to classify (at least one; each a string).

        Returns:
            float32 array [len(texts), len(labels)] of softmax probabilities, rows in input
            order, columns in ``labels`` order.

        Raises:
            InvalidInput: ``texts`` is empty or holds a non-string.
        """
        return _softmax(self.predict_logits(texts))

    def predict_logits(self, texts: list[str]) -> np.ndarray:
        """Logits for each text, float32 [len(texts), len(labels)], rows in input order
        (as :meth:`predict_batch`, before the softmax; training's int8 measurement uses it).

        Raises:
            InvalidInput: ``texts`` is empty or holds a non-string.
        """
        if not texts:
            raise InvalidInput("predict_batch needs at least one text")
        bad = [i for i, t in enumerate(texts) if not isinstance(t, str)]
        if bad:
            raise InvalidInput(f"{len(bad)} inputs are not strings (first at index {bad[0]})")
        rows = self.encode(texts)
        out = np.empty((len(texts), len(self.labels)), dtype=np.float32)
        for run in self.plan(np.array([row.shape[1] for row in rows])):
            out[run] = self.logits([rows[i] for i in run])
        return out
