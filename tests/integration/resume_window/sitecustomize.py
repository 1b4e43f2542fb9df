"""Test-only start-up hook for a worker process (tests/integration/test_resume_window.py).

On the worker's PYTHONPATH, Python imports this module at start-up. With ``TEST_SEEK_DELAY_S``
set, faust's ``Consumer.perform_seek`` (run by table recovery while it resumes the stream
partitions) holds the window after the seek open that long, and while it is open every processor
takes 50 ms per input (``Processor.decode``), so whatever is fetched then is still queued in the
agents' stream buffers when recovery clears them. The loss a worker used to risk for a few
milliseconds on a busy machine becomes certain.
"""

import os

_DELAY_S = float(os.environ.get("TEST_SEEK_DELAY_S") or 0)

if _DELAY_S > 0:
    import asyncio

    from faust.transport.consumer import Consumer

    _perform_seek = Consumer.perform_seek
    _window_open = False

    async def _perform_seek_then_wait(self) -> None:
        global _window_open
        _slow_processors_while_window_open()
        await _perform_seek(self)
        _window_open = True
        try:
            await asyncio.sleep(_DELAY_S)
        finally:
            _window_open = False

    def _slow_processors_while_window_open() -> None:
        # patched late: at interpreter start-up the project is not importable yet
        from processors.base import Processor

        if getattr(Processor.decode, "_slowed", False):
            return
        decode = Processor.decode

        async def slow_decode(self, *args, **kwargs):
            if _window_open:
                await asyncio.sleep(0.05)
            return await decode(self, *args, **kwargs)

        slow_decode._slowed = True
        Processor.decode = slow_decode

    Consumer.perform_seek = _perform_seek_then_wait
