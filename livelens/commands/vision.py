"""``livelens vision FILE``: per-frame vision features of a media file (sampled like ingest)."""

from __future__ import annotations

import json
from pathlib import Path

import typer


def register(app: typer.Typer) -> None:
    @app.command("vision")
    def vision(
        media: Path = typer.Argument(..., help="video file (anything PyAV decodes)"),
        fps: float = typer.Option(None, help="frames per second to sample (default: LIVELENS_FRAME_FPS)"),
        ocr: bool = typer.Option(False, help="on-screen price text (needs pip install 'livelens[ocr]')"),
    ) -> None:
        """Print one JSON line of vision features per sampled frame."""
        import av

        from models.vision import VisionAnalyzer, VisionConfig
        from streams.settings import get_settings

        settings = get_settings()
        step_ms = 1000.0 / (fps or settings.frame_fps)
        analyzer = VisionAnalyzer(VisionConfig(analysis_width=settings.frame_width, ocr=ocr))
        next_ms = 0.0
        with av.open(str(media)) as container:
            for frame in container.decode(video=0):
                t_ms = float(frame.time or 0.0) * 1000.0
                if t_ms + 1e-6 < next_ms:
                    continue
                next_ms = t_ms + step_ms
                features = analyzer.analyze(frame.to_ndarray(format="bgr24"), int(t_ms))
                row = features.to_dict()
                row["prices"] = [p["amount"] for p in row["prices"]]
                typer.echo(json.dumps({k: (round(v, 4) if isinstance(v, float) else v) for k, v in row.items()}, ensure_ascii=False))
