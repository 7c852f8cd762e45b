"""``RemoteMonitor``: POST each epoch's logs to an HTTP server (Keras 3's callback).

The request is sent with the standard library (``urllib``), not ``requests``: a form field
``field=<json>`` (``application/x-www-form-urlencoded``), or the JSON body itself with
``send_as_json=True``. An unreachable server gives a warning, never an error, as Keras.
"""

from __future__ import annotations

import json
import warnings

import numpy as np

from cnnkit.callbacks.base import Callback


class RemoteMonitor(Callback):
    """Send ``{"epoch": epoch, **logs}`` to ``root + path`` at the end of every epoch.

    Args:
        root: the server's root URL.
        path: the path the event is posted to.
        field: the form field holding the JSON data (when not ``send_as_json``).
        headers: optional dict of HTTP headers.
        send_as_json: send the data as a JSON body (``application/json``).
        timeout: seconds to wait for the server.
    """

    def __init__(
        self,
        root="http://localhost:9000",
        path="/publish/epoch/end/",
        field="data",
        headers=None,
        send_as_json=False,
        timeout=10.0,
    ):
        super().__init__()
        self.root = root
        self.path = path
        self.field = field
        self.headers = headers
        self.send_as_json = send_as_json
        self.timeout = timeout

    def on_epoch_end(self, epoch, logs=None):
        import urllib.error  # here: urllib.request pulls in ssl and email
        import urllib.parse
        import urllib.request

        send = {"epoch": epoch}
        for key, value in (logs or {}).items():
            if isinstance(value, np.ndarray):
                value = value.item() if value.size == 1 else value.tolist()
            elif isinstance(value, np.generic):
                value = value.item()
            send[key] = value
        headers = dict(self.headers or {})
        if self.send_as_json:
            body = json.dumps(send).encode()
            headers.setdefault("Content-Type", "application/json")
        else:
            body = urllib.parse.urlencode({self.field: json.dumps(send)}).encode()
            headers.setdefault("Content-Type", "application/x-www-form-urlencoded")
        request = urllib.request.Request(
            self.root + self.path, data=body, headers=headers, method="POST"
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310
                response.read()
        except (urllib.error.URLError, OSError, ValueError):
            warnings.warn(f"Could not reach RemoteMonitor root server at {self.root}", stacklevel=2)
