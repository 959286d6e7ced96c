# validate.py against the generated tables: each Part 4 error code from the payload that should cause it.
from mptest import alloc, eq
from station.transport import validate

HEAP = "40K"  # the tables are walked as text: no decoded trees


def code(action, payload):
    err = validate.check(validate.request_node(action), payload)
    return err[0] if err else None


def test_valid_trigger_messages_pass():
    eq(code("TriggerMessage", {"requestedMessage": "Heartbeat"}), None)
    eq(code("TriggerMessage", {"requestedMessage": "StatusNotification", "evse": {"id": 1, "connectorId": 1}}), None)
    eq(code("TriggerMessage", {"requestedMessage": "MeterValues", "customData": {"vendorId": "x", "y": 1}}), None)


def test_each_violation_gets_its_part4_code():
    eq(code("TriggerMessage", {}), "OccurrenceConstraintViolation")
    eq(code("TriggerMessage", {"requestedMessage": "Coffee"}), "PropertyConstraintViolation")
    eq(code("TriggerMessage", {"requestedMessage": 7}), "TypeConstraintViolation")
    eq(code("TriggerMessage", {"requestedMessage": "Heartbeat", "extra": 1}), "FormatViolation")
    eq(code("TriggerMessage", {"requestedMessage": "Heartbeat", "evse": {}}), "OccurrenceConstraintViolation")
    eq(code("TriggerMessage", {"requestedMessage": "Heartbeat", "evse": {"id": "1"}}), "TypeConstraintViolation")
    eq(code("TriggerMessage", {"requestedMessage": "Heartbeat", "evse": {"id": True}}), "TypeConstraintViolation")
    eq(code("TriggerMessage", {"requestedMessage": "Heartbeat", "customData": {}}), "OccurrenceConstraintViolation")
    eq(code("TriggerMessage", []), "TypeConstraintViolation")
    eq(code("GetVariables", {"getVariableData": []}), "OccurrenceConstraintViolation")
    long = {"component": {"name": "x" * 51}, "variable": {"name": "v"}}
    eq(code("GetVariables", {"getVariableData": [long]}), "PropertyConstraintViolation")


def test_paths_name_the_offending_field():
    p = {"requestedMessage": "Heartbeat", "evse": {"id": 1.5}}
    err = validate.check(validate.request_node("TriggerMessage"), p)
    eq(err, ("TypeConstraintViolation", "$.evse.id"))


def test_date_times_are_checked():
    ok = {"currentTime": "2026-01-01T10:00:00Z", "interval": 10, "status": "Accepted"}
    eq(validate.check(validate.response_node("BootNotification"), ok), None)
    bad = dict(ok, currentTime="yesterday")
    eq(validate.check(validate.response_node("BootNotification"), bad)[0], "PropertyConstraintViolation")


def test_known_actions():
    assert validate.known("TriggerMessage") and validate.known("UnlockConnector")
    assert not validate.known("Coffee") and not validate.known("Trigger Message") and not validate.known(3)


def test_enum_values_match_whole_values_only():
    for bad in ("Heart", "beat", "Heartbeat|MeterValues", "|Heartbeat", "", "HeartbeatX"):
        eq(code("TriggerMessage", {"requestedMessage": bad}), "PropertyConstraintViolation")
    eq(code("TriggerMessage", {"requestedMessage": "PublishFirmwareStatusNotification"}), None)
    eq(code("TriggerMessage", {"requestedMessage": "Heartbeat", "requestedMessage:": 1}), "FormatViolation")


def test_missing_required_field_is_named_in_the_schema_order():
    node = validate.request_node("GetVariables")
    item = {"component": {}, "variable": {"name": "v"}}
    eq(validate.check(node, {"getVariableData": [item]}),
       ("OccurrenceConstraintViolation", "$.getVariableData[0].component.name"))
    eq(validate.check(node, {"getVariableData": [{"x": 1}]}),
       ("OccurrenceConstraintViolation", "$.getVariableData[0].component"))
    err = validate.check(validate.response_node("TransactionEvent"), {"idTokenInfo": {"status": "Accepted",
                         "groupIdToken": {"idToken": "a", "type": "Local", "additionalInfo": [{"type": "x"}]}}})
    eq(err, ("OccurrenceConstraintViolation", "$.idTokenInfo.groupIdToken.additionalInfo[0].additionalIdToken"))


def test_a_valid_message_is_checked_without_allocating():
    te = {"totalCost": 1.25, "chargingPriority": 0,
          "idTokenInfo": {"status": "Accepted", "cacheExpiryDateTime": "2026-12-01T10:00:00Z", "language1": "en"}}
    gv = {"getVariableData": [
        {"component": {"name": "OCPPCommCtrlr"}, "variable": {"name": "HeartbeatInterval"}},
        {"component": {"name": "SampledDataCtrlr"}, "variable": {"name": "TxUpdatedInterval"},
         "attributeType": "Actual", "customData": {"vendorId": "v"}}]}
    eq(validate.check(validate.response_node("TransactionEvent"), te), None)
    eq(validate.check(validate.request_node("GetVariables"), gv), None)
    eq(alloc(lambda: validate.check(validate.response_node("TransactionEvent"), te)), 0)
    eq(alloc(lambda: validate.check(validate.request_node("GetVariables"), gv)), 0)
    eq(alloc(lambda: validate.known("TriggerMessage")), 0)
