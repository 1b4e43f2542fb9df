"""Media: turning the room's recorded media into files people can post.

- :mod:`media.platforms` - platform profiles (``media/profiles/*.yaml``), schema-checked at load;
- :mod:`media.render`    - the platform renderer (reframe, subtitles, loudness, cover, listing);
- :mod:`media.reframe`   - subject tracking and the smoothed 9:16 crop path;
- :mod:`media.loudness`  - integrated loudness / true peak measurement and normalisation;
- :mod:`media.text`      - CJK-capable fonts and line breaking by rendered width;
- :mod:`media.desk`      - editors' decisions (approve / reject / trim) and batch export;
- :mod:`media.decode`    - one decode pass over a file or live URL -> audio chunks, frames, segments;
- :mod:`media.segment_store` - rolling media segments per room (local folder or S3-compatible);
- :mod:`media.cutter`    - cutting clips from a file or the segment store;
- :mod:`media.clip_files` - one folder per clip, written atomically.

Media I/O with PyAV, OpenCV and Pillow: no Kafka. Calls block; async callers run them in threads
(:mod:`media.decode` hands its events to the loop through a bounded queue).
"""
