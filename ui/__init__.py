"""The browser chat UI (Gradio) over :class:`rag.Assistant`.

Gradio's telemetry is switched off here, before any module of this package imports gradio.
"""

import os

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
