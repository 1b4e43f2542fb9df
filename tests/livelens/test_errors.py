"""Which errors are the user's to fix, and the one line each becomes."""

from __future__ import annotations

import errno

import redis.exceptions
from aiokafka.errors import KafkaConnectionError

from livelens.errors import UserError, describe
from models.taxonomy import TaxonomyError


def test_user_errors_keep_only_their_first_line():
    assert describe(UserError("set LIVELENS_KAFKA_BOOTSTRAP\nmore detail")) == "set LIVELENS_KAFKA_BOOTSTRAP"


def test_services_that_do_not_answer_name_the_setting_to_check():
    assert "LIVELENS_REDIS_URL" in describe(redis.exceptions.ConnectionError("Error 111 connecting to r:6379"))
    assert "credentials" in describe(redis.exceptions.AuthenticationError("invalid password"))
    assert "LIVELENS_KAFKA_BOOTSTRAP" in describe(KafkaConnectionError("Unable to bootstrap"))


def test_files_and_data_errors_name_the_file():
    assert describe(PermissionError(errno.EACCES, "Permission denied", "/srv/直播.mp4")) == \
        "Permission denied: /srv/直播.mp4"
    assert describe(TaxonomyError("apparel.yaml: classes.0.name: field required")).startswith("apparel.yaml")


def test_bugs_are_not_user_errors():
    assert describe(KeyError("x")) is None
    assert describe(ZeroDivisionError()) is None
    assert describe(OSError("no filename, no connection")) is None
