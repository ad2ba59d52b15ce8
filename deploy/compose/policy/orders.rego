# Operator policy for the demo, added to piivault's shipped default policy
# (same package, adding to its partial rules). Edit it while the demo runs:
# piivault reloads it; an invalid edit is refused and the previous policy stays.
package piivault.authz

# The warehouse reads orders to ship parcels: addresses revealed, names
# masked, nothing else (other classes stay denied).
request_allow contains "fulfilment reads orders to ship them" if {
	"fulfilment" in roles
	input.action in read_actions
	input.purpose == "fulfilment"
}

field_grant contains {"effect": effect, "reason": "fulfilment ships parcels"} if {
	input.action in read_actions
	"fulfilment" in roles
	input.purpose == "fulfilment"
	effect := {"address": "reveal", "name": "mask"}[input.resource.class]
}
