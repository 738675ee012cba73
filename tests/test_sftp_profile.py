"""SFTP options in a profile: secrets only by reference, a way to log in,
known_hosts beside the profile, deliver: names that exist."""

from pathlib import Path

import pytest

from filebridge.errors import ProfileError
from filebridge.profile import parse_profile

BASE = """\
name: t
source:
  kind: sftp
  host: erp.example.com
  user: feed
  key: ${FB_TEST_KEY}
  path: /outbox
read:
  format: csv
write:
  - format: csv
    path: out/{stem}.csv
    deliver: [shop]
destinations:
  shop:
    kind: sftp
    host: shop.example.com
    user: import
    password: file:secrets/shop.pw
    path: /import
  erp:
    kind: local
    path: erp-share
feedback:
  ack: {path: "feedback/{stem}.ack.csv", deliver: [erp]}
"""


@pytest.fixture
def base(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("FB_TEST_KEY", "-----BEGIN OPENSSH PRIVATE KEY-----")
    (tmp_path / "secrets").mkdir()
    (tmp_path / "secrets" / "shop.pw").write_text("hunter2\n")
    return tmp_path


def problems(text: str, base: Path) -> list[str]:
    with pytest.raises(ProfileError) as e:
        parse_profile(text, base / "prof.yaml")
    return e.value.problems


def test_valid_profile(base):
    prof = parse_profile(BASE, base / "prof.yaml")
    assert prof.source.known_hosts == base / "known_hosts"  # beside the profile
    assert prof.source.work == base / ".filebridge-work"
    assert prof.write[0].deliver == ["shop"]
    assert prof.destinations["shop"].password.reveal() == "hunter2"
    assert prof.destinations["erp"].path == base / "erp-share"
    assert "hunter2" not in repr(prof.destinations["shop"])


def test_literal_secret_is_refused_and_not_echoed(base):
    found = problems(BASE.replace("password: file:secrets/shop.pw", "password: hunter2"), base)
    assert len(found) == 1 and "destinations.shop.password" in found[0]
    assert "literal secret is refused" in found[0] and "hunter2" not in found[0]


def test_a_way_to_log_in_is_required(base):
    (found,) = problems(BASE.replace("  key: ${FB_TEST_KEY}\n", ""), base)
    assert "source" in found and "give key" in found


def test_deliver_names_a_destination(base):
    (found,) = problems(BASE.replace("deliver: [erp]", "deliver: [erp, ftp]"), base)
    assert "feedback.ack.deliver: unknown destination 'ftp'" in found
    assert "erp, shop" in found


def test_known_hosts_pin_and_replace_handle_hashed_entries(tmp_path):
    import paramiko

    from filebridge.transport import hostkeys

    old = paramiko.RSAKey.generate(1024)  # stand-ins for host keys: only the public half
    new = paramiko.ECDSAKey.generate()
    kh = tmp_path / "known_hosts"
    hashed = paramiko.HostKeys.hash_host("[sftp.example.com]:2222")
    kh.write_text(f"# managed by hand\n{hashed} ssh-rsa {old.get_base64()}\n"
                  f"other.example.com ssh-rsa {old.get_base64()}\n")
    assert hostkeys.pinned(kh, "sftp.example.com", 2222) == [old]
    assert hostkeys.pinned(kh, "sftp.example.com", 22) == []

    hostkeys.pin(kh, "sftp.example.com", 2222, new, replace=True)
    lines = kh.read_text().splitlines()
    assert lines == ["# managed by hand", f"other.example.com ssh-rsa {old.get_base64()}",
                     f"[sftp.example.com]:2222 {new.get_name()} {new.get_base64()}"]
    assert hostkeys.pinned(kh, "sftp.example.com", 2222) == [new]
    assert hostkeys.host_id("h", 22) == "h" and hostkeys.host_id("h", 2200) == "[h]:2200"
