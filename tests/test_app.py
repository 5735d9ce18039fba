import pytest

from toolkit import db as database
from toolkit.datafiles import DataFileError
from toolkit.web import create_app

from .conftest import DATA, POSTGRES


def test_refuses_to_start_on_an_empty_database(tmp_path, monkeypatch):
    monkeypatch.setenv("TOOLKIT_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("TOOLKIT_DATABASE_URL", raising=False)
    with pytest.raises(database.SchemaOutOfDate, match="run `toolkit db upgrade`"):
        create_app()


def test_refuses_to_start_on_an_old_schema(env):
    engine = database.make_engine(env.database_url)
    with engine.begin() as connection:
        connection.exec_driver_sql("UPDATE alembic_version SET version_num = '0000'")
    with pytest.raises(database.SchemaOutOfDate, match="is at revision 0000"):
        create_app()


def test_refuses_an_invalid_case_bank(env, monkeypatch):
    monkeypatch.setenv("TOOLKIT_CASEBANK_DIR", str(DATA / "bad_casebank"))
    with pytest.raises(DataFileError, match="unknown-tag.md:8"):
        create_app()


def test_secret_key_is_generated_once_and_kept(env):
    first = create_app().config["SECRET_KEY"]
    second = create_app().config["SECRET_KEY"]
    assert first == second and len(first) == 64
    assert (env.data_dir / "secret_key").stat().st_mode & 0o077 == 0


@pytest.mark.skipif(bool(POSTGRES), reason="SQLite only")
def test_sqlite_uses_wal(env):
    engine = database.make_engine(env.database_url)
    with engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"


def test_error_pages_use_the_layout(app, client):
    from .conftest import add_user, sign_in

    sign_in(client, add_user(app))
    page = client.get("/sets/no-such-set")
    assert page.status_code == 404
    assert "<title>Page not found – Learning-set toolkit</title>" in page.text
    assert "it may belong to another facilitator" in page.text
    assert client.get("/logout").status_code == 405
