import pytest

# mpharness is found as pytest finds this file: tests_host/ (no __init__.py) is put on sys.path first.
pytest_plugins = ["mpharness", "pytester"]


@pytest.fixture
def stations():
    """start(csms, sid, **kw): the real station (tools/sim.py via simctl.Station) at csms.url + "/ocpp";
    each one is stopped at the end of the test and must have logged no error line or traceback."""
    from boards.host.sim.simctl import Station

    made = []

    def start(csms, sid, **kw):
        st = Station(csms.url + "/ocpp", sid, **kw)
        made.append(st)
        return st

    yield start
    for st in made:
        st.stop()
        assert not st.problems(), "\n".join(st.problems())
