"""JSON for values that plain JSON cannot carry, shared by publish.py and get_result.py.

Tagged single-key objects (the TypeScript helpers translate them both ways):

* ``{"__bytes_hex__": "00ff"}``  bytes
* ``{"__bigint__": "1180591620717411303424"}``  an int outside +-(2**53 - 1), so
  JavaScript reads it without losing digits
* ``{"__float__": "nan" | "inf" | "-inf"}``  non-finite floats (JSON has none)

Outbound only: exceptions become Celery's own exception dict ``{"exc_type",
"exc_message", "exc_module"}``, tuples become lists, anything else ``{"__repr__": "..."}``.
"""

import json
import math

MAX_SAFE_INTEGER = 2**53 - 1


def decode(value):
    """Turn tagged objects from the TypeScript side into Python values."""
    if isinstance(value, list):
        return [decode(item) for item in value]
    if isinstance(value, dict):
        if len(value) == 1:
            ((key, inner),) = value.items()
            if key == "__bytes_hex__":
                return bytes.fromhex(inner)
            if key == "__bigint__":
                return int(inner)
            if key == "__float__":
                return float(inner)
        return {key: decode(item) for key, item in value.items()}
    return value


def encode(value):
    """Turn a Python value into something json.dumps writes losslessly."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, int):
        if -MAX_SAFE_INTEGER <= value <= MAX_SAFE_INTEGER:
            return value
        return {"__bigint__": str(value)}
    if isinstance(value, float):
        if math.isfinite(value):
            return value
        return {"__float__": "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")}
    if isinstance(value, (bytes, bytearray, memoryview)):
        return {"__bytes_hex__": bytes(value).hex()}
    if isinstance(value, (list, tuple)):
        return [encode(item) for item in value]
    if isinstance(value, dict):
        return {_key(key): encode(item) for key, item in value.items()}
    if isinstance(value, BaseException):
        cls = type(value)
        return {
            "exc_type": cls.__qualname__,
            "exc_message": encode(list(value.args)),
            "exc_module": cls.__module__,
        }
    return {"__repr__": repr(value)}


def _key(key):
    if isinstance(key, str):
        return key
    if isinstance(key, (bytes, bytearray)):
        return bytes(key).decode("utf-8", "backslashreplace")
    return str(key)


def dumps(value):
    return json.dumps(encode(value), allow_nan=False)
