"""The lock that keeps two status syncs from overlapping, on real Redis."""

import pytest
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from mlplatform.locks import try_lock


def test_a_second_sync_does_not_get_the_redis_lock_while_the_first_holds_it():
    assert settings.REDIS_URL, "make test sets REDIS_URL"
    with try_lock("test-sync", ttl=30) as first:
        assert first
        with try_lock("test-sync", ttl=30) as second:
            assert not second
    with try_lock("test-sync", ttl=30) as again:
        assert again  # released


def test_without_redis_the_lock_says_what_is_missing(settings):
    settings.REDIS_URL = None
    with pytest.raises(ImproperlyConfigured, match="REDIS_URL"), try_lock("test-sync", ttl=30):
        pass
