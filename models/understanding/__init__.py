"""Understanding: selling-point classification of host speech, and viewer chat analysis.

Pure models (no Kafka, no asyncio). Entry points:

- ``SegmentClassifier`` (segment_classifier.py): transcript sentence -> selling-point class
- ``ChatAnalyzer`` (chat.py): chat message -> sentiment, emotion, intent
- ``SellingPointSegmenter`` and ``ChatAggregator`` (streaming.py): incremental helpers for processors
"""

from models.understanding.classification import Classification, TextClassifier
from models.understanding.text import MAX_CHARS, safe_text

__all__ = ["Classification", "TextClassifier", "MAX_CHARS", "safe_text"]
