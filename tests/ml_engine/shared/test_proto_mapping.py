"""The packed wire forms written from numpy arrays read back, through the generated messages, as
the same numbers."""

from __future__ import annotations

import numpy as np

from ml_engine.shared.proto_mapping import message_parts, packed_double_parts, packed_doubles, packed_varints
from trading.market.v1 import indicator_service_pb2 as pb

PACKED_VALUES = pb.IndicatorOutput.DESCRIPTOR.fields_by_name["packed_values"].number
OUTPUTS = pb.IndicatorSeries.DESCRIPTOR.fields_by_name["outputs"].number
TIME_SECONDS = pb.GetIndicatorsResponse.DESCRIPTOR.fields_by_name["time_seconds"].number


def test_packed_doubles_read_back_from_a_slice_of_an_array() -> None:
    values = np.random.default_rng(3).normal(size=1000)
    values[5] = np.nan
    shown = values[33:]  # a view, as a reply's values after the warm-up are
    output = pb.IndicatorOutput.FromString(packed_doubles(PACKED_VALUES, shown))
    np.testing.assert_array_equal(np.array(output.packed_values), shown)
    assert packed_doubles(PACKED_VALUES, np.array([])) == b""


def test_a_message_of_parts_sizes_a_byte_view_by_its_bytes() -> None:
    # The values are a byte view of the array: the enclosing length must count 8 bytes a value,
    # or the message reads back truncated or fails to parse.
    values = np.arange(300, dtype=np.float64) / 7
    head = pb.IndicatorOutput(name="upper", warmup=19).SerializeToString()
    wire = b"".join(message_parts(OUTPUTS, [head, *packed_double_parts(PACKED_VALUES, values)]))
    (output,) = pb.IndicatorSeries.FromString(wire).outputs
    assert (output.name, output.warmup) == ("upper", 19)
    np.testing.assert_array_equal(np.array(output.packed_values), values)


def test_packed_varints_read_back_at_every_width() -> None:
    rng = np.random.default_rng(5)
    for bits in (1, 7, 8, 14, 21, 28, 35, 42, 49, 56, 62):
        values = rng.integers(0, 1 << bits, 500, dtype=np.int64)
        reply = pb.GetIndicatorsResponse.FromString(packed_varints(TIME_SECONDS, values))
        assert list(reply.time_seconds) == values.tolist(), bits
    times = np.arange(1_500_000_000, 1_500_000_000 + 3600 * 100, 3600)
    reply = pb.GetIndicatorsResponse.FromString(packed_varints(TIME_SECONDS, times))
    assert list(reply.time_seconds) == times.tolist()
