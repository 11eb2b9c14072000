import pytest

from costsync_pipeline.settings import SettingsError, load_settings


def test_defaults_are_local_and_absolute(tmp_path):
    s = load_settings({}, cwd=tmp_path)
    assert s.database_url == f"sqlite:///{tmp_path}/.costsync/costsync.db"
    assert s.inbox_url == str(tmp_path / "data" / "inbox")
    assert s.raw_zone_url == str(tmp_path / ".costsync" / "raw")
    assert not s.database_url_from_env


def test_urls_are_kept(tmp_path):
    s = load_settings(
        {
            "COSTSYNC_INBOX": "memory://inbox",
            "COSTSYNC_DATABASE_URL": "postgresql+psycopg://u@h/db",
        },
        cwd=tmp_path,
    )
    assert s.inbox_url == "memory://inbox"
    assert s.database_url_from_env


@pytest.mark.parametrize("url", ["mysql://x@y/z", "not a url", "postgresql+psycopg2://u@h/db"])
def test_bad_database_url_names_the_variable(url, tmp_path):
    with pytest.raises(SettingsError, match="COSTSYNC_DATABASE_URL"):
        load_settings({"COSTSYNC_DATABASE_URL": url}, cwd=tmp_path)
