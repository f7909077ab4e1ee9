from hierograph.settings import load_settings


def test_env_overrides_toml_overrides_defaults(tmp_path, monkeypatch):
    home = tmp_path / "home"
    home.mkdir()
    (home / "config.toml").write_text('max_leaf_size = 20\nstore = "neo4j"\nseed = 7\n')
    monkeypatch.delenv("HIEROGRAPH_STORE", raising=False)
    monkeypatch.setenv("HIEROGRAPH_SEED", "9")
    s = load_settings(home=home)
    assert (s.max_leaf_size, s.store, s.seed) == (20, "neo4j", 9)
    assert s.db_path() == home / "hierograph.sqlite"
    assert load_settings(home=home, seed=11).seed == 11


def test_config_file_from_env_and_defaults(tmp_path, monkeypatch):
    config = tmp_path / "custom.toml"
    config.write_text("min_leaf_size = 5\n")
    monkeypatch.setenv("HIEROGRAPH_CONFIG", str(config))
    assert load_settings(home=tmp_path).min_leaf_size == 5
    monkeypatch.delenv("HIEROGRAPH_CONFIG")
    assert load_settings(home=tmp_path / "empty").min_leaf_size == 3
