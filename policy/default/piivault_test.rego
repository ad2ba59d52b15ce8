# Unit tests of the shipped default policy. `go test ./policy` runs them
# through OPA's tester (TestShippedPolicyRego); `opa test policy/default`
# runs them too.
package piivault.authz_test

import data.piivault.authz

# mk builds an input for one principal with the given roles.
mk(roles, action, purpose, class) := {
	"principal": {"id": "p-1", "roles": roles, "attributes": {}},
	"action": action,
	"purpose": purpose,
	"resource": {"stream": "order-1", "event_type": "OrderPlaced", "subject": "cust-42", "path": "/x", "class": class},
}

effect(roles, action, purpose, class) := e if {
	e := authz.field.effect with input as mk(roles, action, purpose, class)
}

allowed(roles, action, purpose) := a if {
	a := authz.authorize.allow with input as mk(roles, action, purpose, "")
}

# --- support ---------------------------------------------------------------

test_support_reveals_names_and_emails if {
	effect(["support"], "read", "support", "name") == "reveal"
	effect(["support"], "read", "support", "email") == "reveal"
}

test_support_masks_phones if effect(["support"], "read", "support", "phone") == "mask"

test_support_other_classes_denied if {
	effect(["support"], "read", "support", "address") == "deny"
	effect(["support"], "read", "support", "national_id") == "deny"
}

test_support_needs_purpose_support if {
	effect(["support"], "read", "billing", "email") == "deny"
	effect(["support"], "read", "", "email") == "deny"
	not allowed(["support"], "read", "marketing")
	allowed(["support"], "read", "support")
	allowed(["support"], "subscribe", "support")
}

test_support_wrong_purpose_reason_names_the_purpose if {
	d := authz.authorize with input as mk(["support"], "read", "marketing", "")
	not d.allow
	contains(d.reason, "only for purpose support")
}

test_subscribe_follows_read if effect(["support"], "subscribe", "support", "phone") == "mask"

# --- billing ---------------------------------------------------------------

test_billing_reveals_addresses if effect(["billing"], "read", "billing", "address") == "reveal"

test_billing_nothing_else if {
	effect(["billing"], "read", "billing", "email") == "deny"
	effect(["billing"], "read", "support", "address") == "deny"
}

# --- analytics -------------------------------------------------------------

test_analytics_tokens_only if {
	every c in ["name", "email", "phone", "address", "date_of_birth", "national_id", "ip_address", "free_text"] {
		effect(["analytics"], "read", "analytics", c) == "tokenize"
	}
}

test_analytics_needs_purpose if {
	effect(["analytics"], "read", "support", "email") == "deny"
	not allowed(["analytics"], "read", "support")
}

# --- service ---------------------------------------------------------------

test_service_appends_and_reads_tokens if {
	allowed(["service"], "append", "")
	allowed(["service"], "read", "")
	allowed(["service"], "subscribe", "anything")
	effect(["service"], "read", "", "email") == "tokenize"
	not allowed(["service"], "erase", "")
	not allowed(["service"], "admin", "")
}

# --- dpo -------------------------------------------------------------------

test_dpo_erases_exports_audits if {
	allowed(["dpo"], "erase", "")
	allowed(["dpo"], "export", "")
	allowed(["dpo"], "audit", "")
	not allowed(["dpo"], "read", "")
	not allowed(["dpo"], "admin", "")
}

test_dpo_export_reveals_every_class if {
	effect(["dpo"], "export", "", "national_id") == "reveal"
	effect(["dpo"], "read", "", "email") == "deny"
}

# --- admin -----------------------------------------------------------------

test_admin_manages_schemas_only if {
	allowed(["admin"], "admin", "")
	not allowed(["admin"], "read", "support")
	not allowed(["admin"], "erase", "")
	effect(["admin"], "read", "", "email") == "deny"
}

# --- combinations and defaults --------------------------------------------

test_most_revealing_grant_wins if {
	effect(["service", "support"], "read", "support", "email") == "reveal"
	effect(["analytics", "support"], "read", "support", "phone") == "mask"
}

test_unknown_role_denied if {
	not allowed(["intern"], "read", "support")
	effect(["intern"], "read", "support", "email") == "deny"
	not allowed([], "append", "")
}

test_no_class_denied if effect(["support"], "read", "support", "") == "deny"

test_unknown_action_denied if {
	d := authz.authorize with input as mk(["service"], "delete", "", "")
	not d.allow
	d.reason == "unknown action"
}

test_append_is_not_a_read if effect(["support"], "append", "support", "email") == "deny"

test_decisions_always_defined if {
	every a in ["append", "read", "subscribe", "erase", "export", "audit", "admin"] {
		is_boolean(allowed(["nobody"], a, ""))
		is_string(effect(["nobody"], a, "", "email"))
	}
}

test_known_roles if {
	authz.known_roles == {"service", "support", "billing", "analytics", "dpo", "admin"}
}
