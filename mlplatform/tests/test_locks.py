"""The lock that keeps two status syncs from overlapping, on real Redis and on a file."""

from django.conf import settings

from mlplatform.locks import try_lock


def test_a_second_sync_does_not_get_the_redis_lock_while_the_first_holds_it():
    assert settings.REDIS_URL, "make test sets REDIS_URL"
    with try_lock("test-sync", ttl=30) as first:
        assert first
        with try_lock("test-sync", ttl=30) as second:
            assert not second
    with try_lock("test-sync", ttl=30) as again:
        assert again  # released


def test_the_file_lock_serves_a_single_host_without_redis(settings, tmp_path):
    settings.REDIS_URL = None
    settings.VAR_DIR = tmp_path
    with try_lock("test-sync", ttl=30) as first, try_lock("test-sync", ttl=30) as second:
        assert first and not second
