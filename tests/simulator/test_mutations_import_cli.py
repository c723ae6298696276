"""Byte-exact import of real mail, the live mutation interface (admin HTTP and CLI), ground truth,
and ``capstone simulator serve`` as a subprocess."""

from __future__ import annotations

import json
import mailbox
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner
from msgraph.generated.users.item.mail_folders.mail_folders_request_builder import MailFoldersRequestBuilder

from capstone.cli.main import cli
from connectors.simulator.generator import build_tenant
from connectors.simulator.server import run_simulator_process
from connectors.simulator.state import SimulatorConfig
from connectors.simulator.truth import truth
from tests.simulator.conftest import run
from tests.simulator.graph_client import config, graph_client

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

GRIFFIER = "griffier@gemeente-demo.nl"
EML_CRLF = (
    b"From: =?iso-8859-1?q?Ren=E9e?= <renee@mail.example>\r\nTo: griffier@gemeente-demo.nl\r\n"
    b"Subject: =?utf-8?b?V29vLXZlcnpvZWsgY2Fmw6k=?=\r\nDate: Tue, 03 Mar 2026 10:00:00 +0100\r\n"
    b"Message-ID: <import-1@mail.example>\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=iso-8859-1\r\n"
    b"Content-Transfer-Encoding: 8bit\r\n\r\nGeachte griffier, caf\xe9 \xe9\xe9n.\r\n \r\ntrailing spaces   \r\n"
)
EML_LF = b"From: a@mail.example\nTo: griffier@gemeente-demo.nl\nSubject: lf only\nX-Odd:   spaced\n\nbody without final newline"


def _json(output: str) -> Any:
    """The JSON document a command printed (the in-process simulator's own log lines may share
    the captured output)."""
    start = output.index("\n{") + 1 if not output.startswith("{") else 0
    return json.loads(output[start:])


@pytest.fixture
def cli_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.setenv("CAPSTONE_HOME", str(tmp_path / "home"))
    for name in ("CAPSTONE_VAULT", "CAPSTONE_DB_URL", "CAPSTONE_CONFIG"):
        monkeypatch.delenv(name, raising=False)
    return CliRunner()


def test_import_eml_directory_and_mbox_byte_exact(tmp_path: Path, fresh_sim: Any) -> None:
    emls = tmp_path / "emls"
    (emls / "sub").mkdir(parents=True)
    (emls / "a.eml").write_bytes(EML_CRLF)
    (emls / "sub" / "b.eml").write_bytes(EML_LF)
    box_path = tmp_path / "archief.mbox"
    box = mailbox.mbox(str(box_path))
    box.add(mailbox.mboxMessage(EML_LF.replace(b"lf only", b"mbox one")))
    box.add(mailbox.mboxMessage(EML_LF.replace(b"lf only", b"mbox two")))
    box.close()
    reader = mailbox.mbox(str(box_path))
    mbox_bytes = [reader.get_bytes(key) for key in reader.iterkeys()]
    reader.close()
    imports = ((str(emls), GRIFFIER, "Inbox/Import"), (str(box_path), GRIFFIER, "Geïmporteerd"))
    with fresh_sim(imports=imports) as sim:

        async def fetch(folder_path: str) -> list[bytes]:
            client = graph_client(sim)
            user = client.users.by_user_id(GRIFFIER)
            query = MailFoldersRequestBuilder.MailFoldersRequestBuilderGetQueryParameters(top=50)
            folders = await user.mail_folders.get(request_configuration=config(query=query))
            top = next(f for f in folders.value if f.display_name == folder_path.split("/")[0])
            if "/" in folder_path:
                children = await user.mail_folders.by_mail_folder_id(top.id).child_folders.get(
                    request_configuration=config()
                )
                top = next(f for f in children.value if f.display_name == folder_path.split("/")[1])
            page = await user.mail_folders.by_mail_folder_id(top.id).messages.delta.get(
                request_configuration=config()
            )
            return [
                await user.messages.by_message_id(m.id).content.get(request_configuration=config())
                for m in page.value
            ]

        assert sorted(run(fetch("Inbox/Import"))) == sorted([EML_CRLF, EML_LF])
        assert sorted(run(fetch("Geïmporteerd"))) == sorted(mbox_bytes)
        document = sim.truth(mailbox=GRIFFIER)
        imported = [i for i in document["mailboxes"][0]["items"] if i["folderPath"] == "Inbox/Import"]
        assert {i["internetMessageId"] for i in imported} == {"<import-1@mail.example>", None}


def test_mutation_lifecycle_through_cli(cli_env: CliRunner, fresh_sim: Any) -> None:
    with fresh_sim() as sim:
        url = ["--url", sim.base_url]
        added = cli_env.invoke(
            cli,
            [
                "simulator",
                "add-message",
                *url,
                "--mailbox",
                GRIFFIER,
                "--folder",
                "Privé",
                "--subject",
                "Taart",
            ],
        )
        assert added.exit_code == 0, added.output
        item_id = _json(added.stdout)["item"]["immutableId"]
        steps = []
        for command in (["delete"], ["delete"], ["purge"], ["purge"]):
            result = cli_env.invoke(cli, ["simulator", *command, *url, item_id])
            assert result.exit_code == 0, result.output
            steps.append(_json(result.stdout)["item"])
        assert [s["folderPath"] for s in steps[:3]] == [
            "Deleted Items",
            "Recoverable Items/Deletions",
            "Recoverable Items/Purges",
        ]
        assert steps[3]["purged"] is True
        missing = cli_env.invoke(cli, ["simulator", "delete", *url, item_id])
        assert missing.exit_code != 0 and "item" in missing.output
        chat = next(c for c in sim.tenant.chats.values() if c.chat_type == "oneOnOne")
        message = next(m for m in chat.messages.values() if not m.deleted)
        edited = cli_env.invoke(
            cli, ["simulator", "edit-chat-message", *url, chat.id, message.id, "Nieuwe tekst"]
        )
        assert edited.exit_code == 0, edited.output
        deleted = cli_env.invoke(cli, ["simulator", "delete-chat-message", *url, chat.id, message.id])
        assert deleted.exit_code == 0, deleted.output
        shown = cli_env.invoke(cli, ["simulator", "truth", "--json", *url, "--mailbox", GRIFFIER])
        document = _json(shown.stdout)
        assert all(i["immutableId"] != item_id for m in document["mailboxes"] for i in m["items"])
        versions = next(
            m["versions"]
            for c in sim.truth()["chats"]
            if c["id"] == chat.id
            for m in c["messages"]
            if m["id"] == message.id
        )
        assert [v["kind"] for v in versions][-2:] == ["edited", "deleted"]


def test_truth_offline_and_serve_as_subprocess(cli_env: CliRunner) -> None:
    offline = cli_env.invoke(cli, ["simulator", "truth", "--json", "--seed", "5"])
    assert offline.exit_code == 0, offline.output
    document = _json(offline.stdout)
    assert document == json.loads(json.dumps(truth(build_tenant(5, "small"))))
    summary = cli_env.invoke(cli, ["simulator", "truth", "--seed", "5"])
    assert "burgemeester@gemeente-demo.nl" in summary.output
    with run_simulator_process(seed=5, extra_args=["--time-scale", "60"]) as endpoints:
        assert endpoints.client_id == SimulatorConfig().client_id
        served = httpx.get(f"{endpoints.base_url}/_sim/truth").json()
        items = lambda doc: {(i["immutableId"], i["sha256"]) for m in doc["mailboxes"] for i in m["items"]}  # noqa: E731
        assert items(served) == items(document)
        token = httpx.post(
            endpoints.token_url,
            data={
                "grant_type": "client_credentials",
                "client_id": endpoints.client_id,
                "client_secret": endpoints.client_secret,
                "scope": "https://graph.microsoft.com/.default",
            },
        ).json()["access_token"]
        users = httpx.get(f"{endpoints.graph_url}/users", headers={"Authorization": f"Bearer {token}"})
        assert users.status_code == 200 and len(users.json()["value"]) == 8
