"""Online anomaly detectors for live rooms: stream health, engagement, commerce, pipeline.

Pure: plain numbers in, :class:`AlertChange` records out. ``RoomAnomalyMonitor`` routes a
room's named metrics to one detector per (metric, alert type).
"""

from models.anomaly.base import AlertChange, AlertLifecycle, AlertPolicy, AnomalyDetector, SampleGuard
from models.anomaly.detectors import (
    BaselineDeviationDetector,
    BudgetConfig,
    DeviationConfig,
    EventRateDetector,
    GapConfig,
    IngestGapDetector,
    JumpConfig,
    LevelConfig,
    LevelDetector,
    PercentileBudgetDetector,
    RateConfig,
    TimestampJumpDetector,
)
from models.anomaly.monitor import DB_FLOOR, AnomalyConfig, RoomAnomalyMonitor, rms_dbfs

__all__ = [
    "AlertChange", "AlertLifecycle", "AlertPolicy", "AnomalyDetector", "SampleGuard",
    "BaselineDeviationDetector", "BudgetConfig", "DeviationConfig", "EventRateDetector", "GapConfig",
    "IngestGapDetector", "JumpConfig", "LevelConfig", "LevelDetector", "PercentileBudgetDetector",
    "RateConfig", "TimestampJumpDetector", "DB_FLOOR", "AnomalyConfig", "RoomAnomalyMonitor", "rms_dbfs",
]
