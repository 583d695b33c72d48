"""The complaint composer and the team keys dialog, driven by the keyboard."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import Qt
from PySide6.QtPdf import QPdfDocument
from PySide6.QtTest import QTest

from app.evidence import import_files
from app.incidents import IncidentFilter, list_incidents
from app.store import Store
from export import keys
from export.verify import verify_pdf
from tests.conftest import FIXTURES
from tests.ui.conftest import Messages, fill_store, type_text, wait_idle
from ui.complaint import ComplaintComposer
from ui.main_window import MainWindow

PHOTOS = FIXTURES / "photos"
PASSWORD = "s3cret"
RU_ADDRESSEE = "Алматинская городская избирательная комиссия"
KK_LEGAL = "ҚР Сайлау туралы заңының 20-бабы"


@dataclass(frozen=True)
class Pki:
    ca_dir: Path
    p12: Path
    expired: Path


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    root = tmp_path_factory.mktemp("pki")
    keys.create_ca("Адал сайлау — команда", root / "ca")
    keys.issue_signer(root / "ca", "Сейітқызы Айгерім", root / "signer.p12", PASSWORD.encode())
    past = datetime.now(UTC) - timedelta(days=900)
    keys.issue_signer(root / "ca", "Old Signer", root / "expired.p12", PASSWORD.encode(),
                      valid_from=past)
    return Pki(root / "ca", root / "signer.p12", root / "expired.p12")


@pytest.fixture
def filled_dir(data_dir: Path) -> Path:
    """The usual four incidents; the two latest (the list's first rows) have photos."""
    fill_store(data_dir)
    with Store(data_dir) as store:
        latest = list_incidents(store, IncidentFilter(), limit=2)
        for inc, files in zip(latest, (["gps_DSCN0010.jpg", "Canon_40D.jpg"],
                                       ["orientation_landscape_6.jpg"]), strict=True):
            outcomes = import_files(store, inc.id, [PHOTOS / f for f in files], workers=1)
            assert all(o.ok for o in outcomes)
    return data_dir


def press(widget: Any, keys_: str) -> None:
    from PySide6.QtGui import QKeySequence

    combo = QKeySequence(keys_)[0]
    QTest.keyClick(widget, combo.key(), combo.keyboardModifiers())


def open_composer(qtbot: Any, window: MainWindow) -> ComplaintComposer:
    """Choose the first two incidents with Shift+Down and press Ctrl+Shift+E."""
    window.focus_list()
    press(window.table, "Shift+Down")
    assert len(window.selected_nums()) == 2
    press(window.table, "Ctrl+Shift+E")
    composer = window.composer
    assert isinstance(composer, ComplaintComposer)
    qtbot.waitUntil(lambda: composer.pdf.status() == QPdfDocument.Status.Ready
                    and composer.pdf.pageCount() > 0 and composer._preview_job is None,
                    timeout=30_000)
    return composer


def replace_text(widget: Any, text: str) -> None:
    press(widget, "Ctrl+A")
    type_text(widget, text)


def test_compose_preview_and_export_signed(qtbot: Any, window: MainWindow, messages: Messages,
                                           pki: Pki, tmp_path: Path) -> None:
    composer = open_composer(qtbot, window)
    assert composer.incident_list.count() == 2
    assert composer.evidence.count() == 3
    assert all(composer.evidence.item(r).checkState() == Qt.CheckState.Checked
               for r in range(3))
    assert "комиссия" in composer.addressee.text()  # the stations' superior commission
    assert composer.request.toPlainText().startswith("1. ")
    assert composer.embed.isChecked()
    assert composer.password.echoMode() == composer.password.EchoMode.Password
    assert composer.focusWidget() is composer.addressee

    replace_text(composer.addressee, RU_ADDRESSEE)
    composer.legal_basis.setFocus()
    type_text(composer.legal_basis, KK_LEGAL)
    # Leave out the second photo: Space on the current item unticks it.
    composer.evidence.setFocus()
    composer.evidence.setCurrentRow(1)
    press(composer.evidence, "Space")
    assert composer.evidence.item(1).checkState() == Qt.CheckState.Unchecked
    composer.key_file.setFocus()
    type_text(composer.key_file, str(pki.p12))
    press(composer.key_file, "Tab")  # past "Browse…"
    press(composer.focusWidget(), "Tab")
    assert composer.focusWidget() is composer.password
    type_text(composer.password, PASSWORD)

    out = tmp_path / "жалоба.pdf"
    messages.save_files.append(out)
    with qtbot.waitSignal(composer.export_finished, timeout=60_000) as blocker:
        press(composer.password, "Return")  # the default button: Export
    result = blocker.args[0]
    assert out.is_file() and result.path == out
    assert result.level == "B-B" and result.signer == "Сейітқызы Айгерім"
    assert result.files == 2
    report = verify_pdf(out, keys.load_pem_certs(pki.ca_dir / keys.CA_CERT))
    assert report.ok, report
    assert report.signatures[0].trusted
    assert len(report.files) == 2 and all(f.ok for f in report.files)
    told = messages.texts()
    assert "Complaint exported" in told and str(out) in told and result.sha256 in told
    assert f"Pages: {result.pages}" in told and "PAdES B-B" in told
    assert composer.password.text() == PASSWORD  # kept for another export, never stored
    wait_idle(qtbot, window)


def test_wrong_password_keeps_the_dialog_and_writes_nothing(
        qtbot: Any, window: MainWindow, messages: Messages, pki: Pki, tmp_path: Path) -> None:
    window.switch_language("ru")
    composer = open_composer(qtbot, window)
    replace_text(composer.addressee, RU_ADDRESSEE)
    composer.key_file.setText(str(pki.p12))
    composer.password.setFocus()
    type_text(composer.password, "wrong")
    out = tmp_path / "out.pdf"
    messages.save_files.append(out)
    with qtbot.waitSignal(composer.export_failed, timeout=30_000) as blocker:
        press(composer.password, "Return")
    assert "Пароль не открывает" in blocker.args[0]
    assert blocker.args[0] in messages.texts()
    assert not out.exists() and not list(tmp_path.glob("*.pdf*"))
    assert composer.isVisible()
    assert composer.addressee.text() == RU_ADDRESSEE
    assert composer.password.text() == "wrong"
    assert composer.export_button.isEnabled()

    # An expired certificate: said plainly, in the interface language.
    composer.key_file.setText(str(pki.expired))
    composer.password.setText(PASSWORD)
    messages.save_files.append(out)
    with qtbot.waitSignal(composer.export_failed, timeout=30_000) as blocker:
        composer.export()
    assert "истёк" in blocker.args[0] and "Old Signer" in blocker.args[0]
    assert not out.exists()

    # A folder that does not exist.
    composer.key_file.setText(str(pki.p12))
    messages.save_files.append(tmp_path / "нет" / "out.pdf")
    with qtbot.waitSignal(composer.export_failed, timeout=30_000) as blocker:
        composer.export()
    assert "не существует" in blocker.args[0]
    assert composer.isVisible()
    wait_idle(qtbot, window)


def test_language_switch_changes_the_default_request(qtbot: Any, window: MainWindow,
                                                     messages: Messages) -> None:
    composer = open_composer(qtbot, window)
    english = composer.request.toPlainText()
    assert "Investigate" in english
    composer.language.setFocus()
    composer.language.setCurrentIndex(composer.language.findData("kk"))
    kazakh = composer.request.toPlainText()
    assert "тексеріп" in kazakh and kazakh != english
    qtbot.waitUntil(lambda: composer._preview_job is None, timeout=30_000)
    assert composer.pdf.status() == QPdfDocument.Status.Ready
    # Once the user has written their own request, a language switch keeps it.
    composer.request.setFocus()
    press(composer.request, "Ctrl+End")
    press(composer.request, "Return")
    type_text(composer.request, "4. Қосымша талап")
    edited = composer.request.toPlainText()
    composer.language.setCurrentIndex(composer.language.findData("ru"))
    assert composer.request.toPlainText() == edited
    wait_idle(qtbot, window)


def test_cancel_before_the_export_runs_writes_nothing(
        qtbot: Any, window: MainWindow, messages: Messages, tmp_path: Path) -> None:
    composer = open_composer(qtbot, window)
    out = tmp_path / "unsigned.pdf"
    messages.save_files.append(out)
    composer.export()
    assert composer.busy and composer.cancel_button.isVisible()
    press(composer.cancel_button, "Space")
    qtbot.waitUntil(lambda: not composer.busy, timeout=30_000)
    assert not out.exists()
    assert composer.export_button.isEnabled()


def test_shortcut_is_listed(window: MainWindow) -> None:
    dialog = window.show_shortcuts()
    assert "Ctrl+P, Ctrl+Shift+E" in dialog.text.text()
    dialog.close()


def test_team_ca_and_signer_from_the_dialog(qtbot: Any, window: MainWindow, messages: Messages,
                                            tmp_path: Path) -> None:
    from app.complaints import ComplaintDraft, build_complaint, load_pkcs12

    dialog = window.open_team_keys()
    qtbot.waitUntil(lambda: dialog.full_name.text() == "Сейітқызы Айгерім", timeout=10_000)
    dialog.ca_name.setFocus()
    type_text(dialog.ca_name, "Адал сайлау")
    messages.folders.append(tmp_path / "ca")
    press(dialog.ca_browse, "Space")
    assert dialog.ca_folder.text() == str(tmp_path / "ca")
    type_text(dialog.ca_password, "ca-pass")
    type_text(dialog.ca_password2, "ca-pass")
    with qtbot.waitSignal(dialog.ca_created, timeout=60_000):
        press(dialog.create_button, "Space")
    assert (tmp_path / "ca" / keys.CA_CERT).is_file()
    assert dialog.tabs.currentIndex() == 1
    assert dialog.issuer_folder.text() == str(tmp_path / "ca")

    p12 = tmp_path / "me.p12"
    messages.save_files.append(p12)
    press(dialog.p12_browse, "Space")
    assert dialog.p12_file.text() == str(p12)
    type_text(dialog.p12_password, "мой пароль")
    type_text(dialog.p12_password2, "мой пароль?")
    with qtbot.waitSignal(dialog.failed, timeout=5_000):
        press(dialog.issue_button, "Space")
    assert not p12.exists()
    press(dialog.p12_password2, "Backspace")
    with qtbot.waitSignal(dialog.signer_issued, timeout=60_000):
        press(dialog.issue_button, "Space")
    assert "Сейітқызы Айгерім" in messages.texts()

    signer = load_pkcs12(p12, "мой пароль".encode())
    assert signer.name == "Сейітқызы Айгерім"
    other = tmp_path / "other"
    other.mkdir()
    fill_store(other)
    with Store(other) as store:
        inc = list_incidents(store, IncidentFilter(), limit=1)[0]
        result = build_complaint(store, ComplaintDraft((inc.id,)), tmp_path / "c.pdf", signer)
    report = verify_pdf(result.path, keys.load_pem_certs(tmp_path / "ca" / keys.CA_CERT))
    assert report.ok and report.signatures[0].trusted

    # Export CA certificate: a copy of the PEM for the commission.
    messages.folders.append(tmp_path / "ca")
    messages.save_files.append(tmp_path / "для комиссии.pem")
    window.actions["export_ca"].trigger()
    qtbot.waitUntil(lambda: "CA certificate exported" in messages.texts(), timeout=10_000)
    assert (tmp_path / "для комиссии.pem").read_bytes() == \
        (tmp_path / "ca" / keys.CA_CERT).read_bytes()
    dialog.close()
    wait_idle(qtbot, window)


def test_timestamp_fallback_is_said_and_the_server_remembered(
        qtbot: Any, window: MainWindow, messages: Messages, pki: Pki, tmp_path: Path) -> None:
    from app.complaints import get_timestamp_url

    composer = open_composer(qtbot, window)
    url = "http://127.0.0.1:9/tsa"  # the discard port: nothing answers there
    composer.timestamp_url.setText(url)
    composer.key_file.setText(str(pki.p12))
    composer.password.setText(PASSWORD)
    out = tmp_path / "b-b.pdf"
    messages.save_files.append(out)
    with qtbot.waitSignal(composer.export_finished, timeout=60_000) as blocker:
        composer.export()
    assert blocker.args[0].level == "B-B" and blocker.args[0].notice
    kind, _title, text = messages.told[-1]
    assert kind.name == "WARNING"
    assert text.startswith("The timestamp server did not answer")
    assert "PAdES B-B" in composer.status.text()
    wait_idle(qtbot, window)
    with Store(window.data_dir) as store:
        assert get_timestamp_url(store) == url
