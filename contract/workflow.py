"""The claiming and publication workflow, driven only through a client generated from
quanze's served OpenAPI document (openapi-python-client). No hand-written HTTP: if the
contract cannot carry a step, generation or this script fails.

Run by contract/run after `openapi-python-client generate` has written `quanze_client`.
Tokens come from the environment (contract/run mints them with `quanze token`).
"""

import datetime
import os
import sys

from quanze_client import AuthenticatedClient, Client
from quanze_client.api.claims import answer_claims, confirm_claims, list_claims, open_round
from quanze_client.api.organisations import get_organisation
from quanze_client.api.public import public_township_power_list
from quanze_client.api.publication import (
    get_version,
    publish_version,
    review_version,
    submit_version,
)
from quanze_client.models import (
    Answer,
    AnswerBatch,
    AnswerKind,
    ClaimDecision,
    Decision,
    DecisionBatch,
    DecisionKind,
    Holding,
    ListKind,
    NewRound,
    Problem,
    PublishInput,
    ReviewInput,
    Stage,
    SubmitInput,
    TownshipPowerList,
    VersionStatus,
)

BASE = os.environ["QUANZE_URL"]
COUNTY = "510521000000"  # 泸县
TOWNSHIP = "510521001000"  # 玉蟾街道
ITEM = "CF-0001"
UNIT = "luxian-yuchan-zfd"


def client(role: str) -> AuthenticatedClient:
    return AuthenticatedClient(base_url=BASE, token=os.environ[f"QUANZE_TOKEN_{role}"])


def expect(response, status: int, model):
    assert response.status_code == status, (response.status_code, response.content[:500])
    assert isinstance(response.parsed, model), type(response.parsed)
    return response.parsed


def step(text: str) -> None:
    print(f"- {text}", flush=True)


def main() -> None:
    compiler = client("COMPILER")

    step("the compiler opens a round of the 2026 edition")
    round_ = open_round.sync_detailed(
        COUNTY,
        client=compiler,
        body=NewRound(edition="2026", title="2026年赋权事项双向认领", deadline=datetime.date(2099, 12, 31)),
    ).parsed
    assert not isinstance(round_, Problem), round_

    step("the township clerk answers in bulk")
    claims = list_claims.sync(round_.id, client=compiler, township=TOWNSHIP, page_size=500)
    by_item = {claim.item: claim for claim in claims.items}
    declined = next(code for code in sorted(by_item) if code != ITEM)
    answers = [
        Answer(item=ITEM, answer=AnswerKind.CLAIM, unit=UNIT, revision=by_item[ITEM].revision),
        Answer(
            item=declined,
            answer=AnswerKind.DECLINE,
            reason="本乡镇无此类监管对象",
            revision=by_item[declined].revision,
        ),
    ]
    changed = expect(
        answer_claims.sync_detailed(
            round_.id,
            client=client("CLERK"),
            body=AnswerBatch(township=TOWNSHIP, answers=answers),
            idempotency_key="workflow-answers-1",
        ),
        200,
        object,
    )
    claimed = next(claim for claim in changed.claims if claim.item == ITEM)

    step("the department confirms")
    decision = ClaimDecision(
        township=TOWNSHIP, item=ITEM, decision=DecisionKind.CONFIRM, revision=claimed.revision
    )
    expect(
        confirm_claims.sync_detailed(
            round_.id, client=client("OFFICER"), body=DecisionBatch(decisions=[decision])
        ),
        200,
        object,
    )

    step("the compiler submits the power list: refused while claims are undecided")
    refused = submit_version.sync_detailed(
        COUNTY,
        ListKind.POWER,
        client=compiler,
        body=SubmitInput(title="泸县乡镇权力清单（2026）", change_summary="首次编制"),
    )
    assert refused.status_code == 409, refused.content
    assert b"not-ready" in refused.content, refused.content

    step("the compiler submits it anyway, saying why")
    version = expect(
        submit_version.sync_detailed(
            COUNTY,
            ListKind.POWER,
            client=compiler,
            body=SubmitInput(
                title="泸县乡镇权力清单（2026）",
                change_summary="首次编制",
                allow_incomplete=True,
                incomplete_reason="已确认事项先行公布，其余事项在第二批认领后调整",
            ),
        ),
        201,
        object,
    )
    assert version.status == VersionStatus.IN_REVIEW

    for stage, role in [(Stage.LEGALITY, "LEGALITY"), (Stage.GOVERNMENT, "GOVERNMENT")]:
        step(f"the {stage.value} review approves")
        reviewed = expect(
            review_version.sync_detailed(
                COUNTY,
                ListKind.POWER,
                version.number,
                client=client(role),
                body=ReviewInput(
                    stage=stage,
                    decision=Decision.APPROVE,
                    hash_=version.content_hash,
                    comments="经审查，符合法定权限和程序",
                ),
            ),
            201,
            object,
        )
    assert reviewed.status == VersionStatus.APPROVED

    step("the compiler publishes, with the ETag it read")
    current = get_version.sync_detailed(COUNTY, ListKind.POWER, version.number, client=compiler)
    published = expect(
        publish_version.sync_detailed(
            COUNTY,
            ListKind.POWER,
            version.number,
            client=compiler,
            body=PublishInput(),
            if_match=current.headers["etag"],
        ),
        200,
        object,
    )
    assert published.status == VersionStatus.PUBLISHED

    step("anyone reads the township's powers in force, as a typed model")
    slice_ = expect(
        public_township_power_list.sync_detailed(TOWNSHIP, client=Client(base_url=BASE)),
        200,
        TownshipPowerList,
    )
    delegated = [power for power in slice_.items if power.holding == Holding.DELEGATED]
    assert [power.code for power in delegated] == [ITEM], delegated
    assert delegated[0].unit.code == UNIT

    step("a missing organisation is a typed 404 problem")
    missing = expect(get_organisation.sync_detailed("no-such-org", client=compiler), 404, Problem)
    assert missing.type_ == "/problems/not-found", missing

    step("a round due yesterday is a typed 422 problem naming the field")
    late = expect(
        open_round.sync_detailed(
            COUNTY,
            client=compiler,
            body=NewRound(edition="2026", title="过期", deadline=datetime.date(2000, 1, 1)),
        ),
        422,
        Problem,
    )
    assert [error.field for error in late.errors] == ["deadline"], late.errors
    print("workflow done", flush=True)


if __name__ == "__main__":
    try:
        main()
    except AssertionError as failure:
        print(f"workflow failed: {failure!r}", file=sys.stderr)
        raise
