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


def test_price_settings_have_defaults_and_local_copies_become_absolute(tmp_path):
    s = load_settings({}, tmp_path)
    assert s.price_feed_url.startswith("https://raw.githubusercontent.com/BerriAI/litellm/")
    assert s.fx_feed_url is None and s.staleness_seconds == 14400
    assert s.price_overrides_path == str(tmp_path / "price_overrides.json")
    local = load_settings({"COSTSYNC_PRICE_FEED_URL": "data/map.json"}, tmp_path)
    assert local.price_feed_url == str(tmp_path / "data" / "map.json")
    assert load_settings({"COSTSYNC_PRICE_FEED_URL": "off"}, tmp_path).price_feed_url == "off"
    ecb = "https://www.ecb.europa.eu/stats/eurofxref/eurofxref-daily.xml"
    assert load_settings({"COSTSYNC_FX_FEED_URL": ecb}, tmp_path).fx_feed_url == ecb


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("MODEL_COST_STALENESS_SECONDS", "4h"),
        ("MODEL_COST_STALENESS_SECONDS", "0"),
        ("COSTSYNC_PRICE_FEED_URL", "https:/raw.example.com/map.json"),
    ],
)
def test_bad_price_settings_name_the_variable(name, value, tmp_path):
    with pytest.raises(SettingsError, match=name):
        load_settings({name: value}, tmp_path)
