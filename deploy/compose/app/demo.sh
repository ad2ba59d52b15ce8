#!/bin/sh
# Stand-in for your service: one round trip through the sidecar, then idle.
# It shows the whole story: declare a schema, append an event with PII, read
# it back (revealed under policy), erase the subject, read the placeholder.
set -eu
: "${PIIVAULT_URL:=http://127.0.0.1:8200}"
app() { curl -fsS -H "Authorization: Bearer $PIIVAULT_APP_TOKEN" -H 'Content-Type: application/json' "$@"; }
dpo() { curl -fsS -H "Authorization: Bearer $PIIVAULT_DPO_TOKEN" -H 'Content-Type: application/json' "$@"; }

echo "app: waiting for the sidecar"
until curl -fsS "$PIIVAULT_URL/readyz" >/dev/null 2>&1; do sleep 1; done

echo "app: 1. declare which fields of CustomerRegistered are personal data"
app -X PUT "$PIIVAULT_URL/v1/schemas/CustomerRegistered" \
  -d '{"subject":"/customerId","fields":[{"path":"/email","class":"email"},{"path":"/name","class":"name"}]}'
echo

echo "app: 2. append an event; the log keeps tokens, the vault keeps the values"
app -X POST "$PIIVAULT_URL/v1/streams/customer-42/events" \
  -d '{"events":[{"type":"CustomerRegistered","data":{"customerId":"cust-42","email":"ada@example.com","name":"Ada"}}]}'
echo

echo "app: 3. read it back for a declared purpose"
app -H 'X-Purpose: support' "$PIIVAULT_URL/v1/streams/customer-42/events"
echo

echo "app: 4. the privacy team erases the subject"
dpo -X POST "$PIIVAULT_URL/v1/subjects/cust-42/erasure" \
  -d '{"reason":"GDPR Art. 17 request","requester":"ada","ticket":"DEMO-1"}'
echo

echo "app: 5. the same event now reads as [deleted under GDPR]"
app -H 'X-Purpose: support' "$PIIVAULT_URL/v1/streams/customer-42/events"
echo

echo "app: done; idling (the sidecar shares this container's network namespace)"
exec sleep 2147483647
