#!/bin/sh
# Stand-in for your service: one round trip through the sidecar, then idle.
# It shows the whole story: declare a schema, append an event with PII, read
# it as the app (tokens) and as support (revealed), erase the subject, read
# the placeholder.
set -eu
: "${PIIVAULT_URL:=http://127.0.0.1:8200}"
call() { # call TOKEN [curl args...]
  tok=$1; shift
  curl -fsS -H "Authorization: Bearer $tok" -H 'Content-Type: application/json' "$@"
  echo
}

echo "app: waiting for the sidecar"
until curl -fsS "$PIIVAULT_URL/readyz" >/dev/null 2>&1; do sleep 1; done

echo "app: 1. declare which fields of CustomerRegistered are personal data"
call "$PIIVAULT_APP_TOKEN" -X PUT "$PIIVAULT_URL/v1/schemas/CustomerRegistered" \
  -d '{"subject":"/customerId","fields":[{"path":"/email","class":"email"},{"path":"/name","class":"name"}]}'

echo "app: 2. append an event; the log keeps tokens, the vault keeps the values"
call "$PIIVAULT_APP_TOKEN" -X POST "$PIIVAULT_URL/v1/streams/customer-42/events" \
  -d '{"events":[{"type":"CustomerRegistered","data":{"customerId":"cust-42","email":"ada@example.com","name":"Ada"}}]}'

echo "app: 3. the app reads its stream: PII fields come back as tokens"
call "$PIIVAULT_APP_TOKEN" "$PIIVAULT_URL/v1/streams/customer-42/events"

echo "app: 4. support reads for purpose support: name and e-mail revealed"
call "$PIIVAULT_SUPPORT_TOKEN" -H 'X-Purpose: support' "$PIIVAULT_URL/v1/streams/customer-42/events"

echo "app: 5. the privacy team erases the subject"
call "$PIIVAULT_DPO_TOKEN" -X POST "$PIIVAULT_URL/v1/subjects/cust-42/erasure" \
  -d '{"reason":"GDPR Art. 17 request","requester":"ada","ticket":"DEMO-1"}'

echo "app: 6. the same event now reads as [deleted under GDPR], for everyone"
call "$PIIVAULT_SUPPORT_TOKEN" -H 'X-Purpose: support' "$PIIVAULT_URL/v1/streams/customer-42/events"

echo "app: done"
# DEMO_EXIT=1 ends here (deploy/validate runs this script against a real
# sidecar and Vault); in compose the container idles, because the sidecar
# shares its network namespace.
[ "${DEMO_EXIT:-0}" = 1 ] && exit 0
exec sleep 2147483647
