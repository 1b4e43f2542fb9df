"""Media: turning the room's recorded media into files people can post.

- :mod:`media.platforms` - platform profiles (``media/profiles/*.yaml``), schema-checked at load;
- :mod:`media.render`    - the platform renderer (reframe, subtitles, loudness, cover, listing);
- :mod:`media.reframe`   - subject tracking and the smoothed 9:16 crop path;
- :mod:`media.loudness`  - integrated loudness / true peak measurement and normalisation;
- :mod:`media.text`      - CJK-capable fonts and line breaking by rendered width;
- :mod:`media.desk`      - editors' decisions (approve / reject / trim) and batch export.

Pure media I/O with PyAV, OpenCV and Pillow: no Kafka, no asyncio. (The cutter, the segment store
and the clip files still live in ``streams/``; they move here in a later step.)
"""
