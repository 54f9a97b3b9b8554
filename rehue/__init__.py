"""Rehue: colour for black-and-white photographs.

The engine (``rehue.engine``), the photo reader/writer (``rehue.photo_io``) and the batch runner
(``rehue.batch``) need only numpy, OpenCV, Pillow and onnxruntime; the desktop app lives in
``desktop`` and training in ``export``.
"""

__version__ = "0.1.0"
