"""Tests of synthclf.training.servicer's decoding: defaults, optional fields, clear errors."""

from __future__ import annotations

import pytest

from synthclf.core.errors import InvalidInput
from synthclf.training.servicer import config_from_proto, data_from_proto
from synthclf.training.trainer import TrainConfig
from synthclf.v1 import training_pb2 as pb


def test_unset_fields_take_the_documented_defaults():
    assert config_from_proto(pb.TrainRequest(task="sms_spam")) == TrainConfig()


def test_optional_fields_distinguish_zero_from_unset_and_floats_read_back_as_written():
    request = pb.TrainRequest(learning_rate=3e-5, warmup_ratio=0.0, weight_decay=0.0,
                              early_stopping_patience=0, validation_fraction=0.2, epochs=5)
    config = config_from_proto(request)
    assert (config.learning_rate, config.validation_fraction) == (3e-5, 0.2)
    assert (config.warmup_ratio, config.weight_decay, config.early_stopping_patience) == (0, 0, 0)
    assert config.epochs == 5 and config.batch_size == 16


def test_out_of_range_hyperparameters_are_invalid_input():
    with pytest.raises(InvalidInput, match="warmup_ratio"):
        config_from_proto(pb.TrainRequest(warmup_ratio=1.5))
    with pytest.raises(InvalidInput, match="batch_size"):
        config_from_proto(pb.TrainRequest(batch_size=-1))


def test_training_data_decodes_count_or_fraction_but_not_both():
    request = pb.TrainRequest(data=[pb.TrainingData(dataset_uri="a", count=100),
                                    pb.TrainingData(dataset_uri="b", fraction=0.3)])
    first, second = data_from_proto(request)
    assert (first.count, first.fraction, second.count, second.fraction) == (100, 0, 0, 0.3)
    with pytest.raises(InvalidInput, match="give one of count, fraction, count_per_label"):
        data_from_proto(pb.TrainRequest(data=[pb.TrainingData(dataset_uri="a", count=1, fraction=0.5)]))
    (balanced,) = data_from_proto(pb.TrainRequest(data=[pb.TrainingData(dataset_uri="a", count_per_label=8)]))
    assert balanced.count_per_label == 8
    with pytest.raises(InvalidInput, match="fraction"):
        data_from_proto(pb.TrainRequest(data=[pb.TrainingData(dataset_uri="a", fraction=1.5)]))
