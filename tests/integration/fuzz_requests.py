"""Hypothesis strategies for protobuf requests, built from the message descriptors.

:func:`mutations` starts from a valid request and replaces one to three of its fields
(recursively into nested messages, repeated fields and maps) with values chosen by field type:
edge-case integers, NaN and infinities, empty, huge, NUL- and RTL-override-bearing strings,
URIs of other artifact kinds or outside the store, unknown enum numbers, long repeated
fields (the 10 000 × one URI case). :func:`corrupted_bytes` gives byte strings that are
not, or not quite, the serialized request. Used by ``test_fuzz.py``.
"""

from __future__ import annotations

from collections.abc import Sequence

from google.protobuf import message_factory
from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import Message
from hypothesis import strategies as st

F = FieldDescriptor
#: Integer edge cases per field type (values outside a type's range are dropped).
EDGE_INTS = (0, 1, -1, 2, 7, 64, 1000, 10_000, 2**31 - 1, -(2**31), 2**32 - 1, 2**53, 2**63 - 1, -(2**63))
_RANGES = {
    F.TYPE_INT32: (-(2**31), 2**31 - 1), F.TYPE_SINT32: (-(2**31), 2**31 - 1),
    F.TYPE_SFIXED32: (-(2**31), 2**31 - 1), F.TYPE_UINT32: (0, 2**32 - 1), F.TYPE_FIXED32: (0, 2**32 - 1),
    F.TYPE_INT64: (-(2**63), 2**63 - 1), F.TYPE_SINT64: (-(2**63), 2**63 - 1),
    F.TYPE_SFIXED64: (-(2**63), 2**63 - 1), F.TYPE_UINT64: (0, 2**64 - 1), F.TYPE_FIXED64: (0, 2**64 - 1),
}
NASTY_STRINGS = (
    "", " ", "\x00", "a\x00b", "\u202eevil", "é" * 3, "x" * 300, "x" * 200_000, "../../../../etc/passwd",
    "/etc/passwd", "file:///etc/passwd", "file:///etc/../etc/shadow", "s3://another-bucket/dataset/x",
    "http://169.254.169.254/latest/meta-data/", "127.0.0.1:1", "[::1]:1", "%s%n%x", "{}", "null", "NaN",
    "1e8", "-1", "Bearer x", "dataset", "onnx-model", "evaluation",
)


def _scalar(field: FieldDescriptor, pool: Sequence[str]) -> st.SearchStrategy:
    """Values of one non-repeated, non-message field."""
    kind = field.type
    if kind == F.TYPE_STRING:
        return st.one_of(st.sampled_from(list(pool) or [""]), st.sampled_from(NASTY_STRINGS),
                         st.text(max_size=40))
    if kind == F.TYPE_BYTES:
        return st.one_of(st.binary(max_size=64), st.sampled_from([b"", b"\x00" * 8, b"x" * 100_000]))
    if kind == F.TYPE_BOOL:
        return st.booleans()
    if kind in (F.TYPE_FLOAT, F.TYPE_DOUBLE):
        width = 32 if kind == F.TYPE_FLOAT else 64
        return st.one_of(st.sampled_from([0.0, -0.0, 1.0, -1.0, 0.5, 1e-45, 1e8, 3e38]),
                         st.floats(allow_nan=True, allow_infinity=True, width=width))
    if kind == F.TYPE_ENUM:
        numbers = [v.number for v in field.enum_type.values]
        return st.sampled_from([*numbers, max(numbers) + 1, 999, -1])
    low, high = _RANGES[kind]
    return st.one_of(st.sampled_from([v for v in EDGE_INTS if low <= v <= high]),
                     st.integers(min_value=low, max_value=high))


def _value(field: FieldDescriptor, pool: Sequence[str], depth: int) -> st.SearchStrategy:
    """A value of ``field`` (a list for repeated fields, a dict for maps)."""
    if field.message_type is not None and field.message_type.GetOptions().map_entry:
        key = _scalar(field.message_type.fields_by_name["key"], pool)
        value = _single(field.message_type.fields_by_name["value"], pool, depth)
        return st.dictionaries(key, value, max_size=4)
    single = _single(field, pool, depth)
    if not field.is_repeated:
        return single
    small = st.lists(single, max_size=5)
    many = st.tuples(single, st.integers(1_000, 10_000)).map(lambda pair: [pair[0]] * pair[1])
    return st.integers(0, 15).flatmap(lambda roll: many if roll == 0 else small)


def _single(field: FieldDescriptor, pool: Sequence[str], depth: int) -> st.SearchStrategy:
    if field.message_type is not None:
        return messages(field.message_type, pool, depth + 1)
    return _scalar(field, pool)


def _assign(message: Message, field: FieldDescriptor, value) -> None:
    """Set ``field`` of ``message`` to ``value`` (replacing what was there)."""
    name = field.name
    if field.message_type is not None and field.message_type.GetOptions().map_entry:
        target = getattr(message, name)
        target.clear()
        for key, item in value.items():
            if isinstance(item, Message):
                target[key].CopyFrom(item)
            else:
                target[key] = item
    elif field.is_repeated:
        target = getattr(message, name)
        del target[:]
        if field.message_type is not None:
            for item in value:
                target.add().CopyFrom(item)
        else:
            target.extend(value)
    elif field.message_type is not None:
        getattr(message, name).CopyFrom(value)
    else:
        setattr(message, name, value)


@st.composite
def _filled(draw, descriptor: Descriptor, base: Message | None, pool: Sequence[str], depth: int) -> Message:
    message = message_factory.GetMessageClass(descriptor)()
    if base is not None:
        message.CopyFrom(base)
    fields = list(descriptor.fields)
    if not fields:
        return message
    if depth > 2:  # deep enough: leave nested messages as they are
        return message
    chosen = draw(st.lists(st.sampled_from(fields), min_size=1, max_size=min(3, len(fields)), unique=True))
    for field in chosen:
        _assign(message, field, draw(_value(field, pool, depth)))
    return message


def messages(descriptor: Descriptor, pool: Sequence[str], depth: int = 0) -> st.SearchStrategy:
    """Messages of ``descriptor`` with one to three fields set to typed values."""
    return _filled(descriptor, None, pool, depth)


def mutations(base: Message, pool: Sequence[str]) -> st.SearchStrategy:
    """Copies of the valid request ``base`` with one to three fields replaced (now and then
    a message built from scratch instead).

    Args:
        base: a valid request.
        pool: strings worth trying in string fields (valid URIs, names, addresses).
    """
    descriptor = base.DESCRIPTOR
    return st.one_of(_filled(descriptor, base, pool, 0), _filled(descriptor, base, pool, 0),
                     _filled(descriptor, base, pool, 0), messages(descriptor, pool))


@st.composite
def corrupted_bytes(draw, valid: bytes) -> bytes:
    """Random bytes, or the serialized valid request truncated, bit-flipped or extended."""
    choice = draw(st.integers(0, 3))
    if choice == 0 or not valid:
        return draw(st.binary(max_size=256))
    if choice == 1:
        return valid[: draw(st.integers(0, max(0, len(valid) - 1)))]
    if choice == 2:
        data = bytearray(valid)
        for _ in range(draw(st.integers(1, 4))):
            data[draw(st.integers(0, len(data) - 1))] ^= 1 << draw(st.integers(0, 7))
        return bytes(data)
    return valid + draw(st.binary(min_size=1, max_size=64))
