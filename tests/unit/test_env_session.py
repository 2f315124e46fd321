"""bridge.http.env_session: the environment read once per origin, with requests' own answers."""
from __future__ import annotations

import pytest
import requests

from bridge.http.env_session import EnvironmentOnceSession
from bridge.kustomer import KustomerClient
from bridge.okendo.api import OkendoClient

URLS = ["https://acme.api.kustomerapp.com/v1/hooks/web/abc", "https://acme.api.kustomerapp.com:8443/v1/x",
        "http://127.0.0.1:9000/v1/hooks/web/abc", "https://internal.example/v1/customers"]


@pytest.mark.parametrize("environment", [
    {},
    {"HTTPS_PROXY": "http://proxy.example:3128"},
    {"HTTPS_PROXY": "http://proxy.example:3128", "HTTP_PROXY": "http://proxy.example:3129",
     "NO_PROXY": "internal.example,127.0.0.1"},
    {"ALL_PROXY": "socks5://proxy.example:1080", "no_proxy": "acme.api.kustomerapp.com"},
    {"REQUESTS_CA_BUNDLE": "/etc/ssl/bundle.pem"},
    {"CURL_CA_BUNDLE": "/etc/ssl/curl.pem"},
])
def test_same_settings_as_requests_for_each_origin(monkeypatch, environment):
    for name in ("HTTPS_PROXY", "HTTP_PROXY", "ALL_PROXY", "NO_PROXY", "https_proxy", "http_proxy", "all_proxy",
                 "no_proxy", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):
        monkeypatch.delenv(name, raising=False)
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    cached, plain = EnvironmentOnceSession(), requests.Session()
    for url in URLS * 2:  # the second time from what was remembered
        assert cached.merge_environment_settings(url, {}, None, None, None) == \
            plain.merge_environment_settings(url, {}, None, None, None), url


def test_the_environment_is_read_once_per_origin(monkeypatch):
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.example:3128")
    session = EnvironmentOnceSession()
    first = session.merge_environment_settings(URLS[0], {}, None, None, None)
    monkeypatch.setenv("HTTPS_PROXY", "http://other.example:3128")  # a process's environment does not change
    assert session.merge_environment_settings(URLS[0] + "/more", {}, None, None, None) == first
    first["proxies"]["https"] = "changed by a caller"
    assert session.merge_environment_settings(URLS[0], {}, None, None, None)["proxies"] == \
        {"https": "http://proxy.example:3128"}


def test_per_call_proxies_and_trust_env_off_take_requests_own_path(monkeypatch):
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.example:3128")
    session = EnvironmentOnceSession()
    given = {"https": "http://given.example:1"}
    assert session.merge_environment_settings(URLS[0], given, None, None, None)["proxies"]["https"] == \
        "http://given.example:1"
    session.trust_env = False
    assert session.merge_environment_settings(URLS[0], {}, None, None, None)["proxies"] == {}


def test_the_kustomer_client_uses_it():
    assert isinstance(KustomerClient("key").session, EnvironmentOnceSession)


def test_the_okendo_client_uses_it_too():
    assert isinstance(OkendoClient("user", "key").session, EnvironmentOnceSession)
