# piivault default policy.
#
# This file is shipped inside the piivault binary. It answers two questions:
#
#   authorize  may this request happen at all?
#              {"allow": bool, "reason": string}
#   field      what does a read do with one PII field?
#              {"effect": "reveal" | "mask" | "tokenize" | "deny", "reason": string}
#
# Input (never a personal-data value, only identifiers and labels):
#
#   input.principal.id           who calls (from the bearer token)
#   input.principal.roles        e.g. ["support"]
#   input.principal.attributes   operator-defined labels (team, tenant...)
#   input.action                 append | read | subscribe | erase | export | audit | admin
#   input.purpose                why (the X-Purpose header), e.g. "support"
#   input.resource.stream        stream name
#   input.resource.event_type    event type
#   input.resource.subject       data subject ID (customer ID)
#   input.resource.path          JSON pointer of the field, e.g. "/email"
#   input.resource.class         PII class: name, email, phone, address, date_of_birth,
#                                national_id, ip_address, free_text, detected
#
# Everything is denied unless a rule below allows it (default deny). The dev
# root token never reaches this file: piivault lets it through before asking.
#
# Extending. Add your own .rego files in the policy folder (--policy-dir),
# in this same package, adding to the four partial rules:
#
#   request_allow contains reason if { ... }   # allow a request
#   request_deny  contains reason if { ... }   # forbid a request (wins over allows)
#   field_grant   contains {"effect": e, "reason": r} if { ... }
#                                               # the most revealing grant wins
#   field_deny    contains reason if { ... }   # deny a field (wins over grants)
#
# For example, to let billing also see names for purpose billing:
#
#   package piivault.authz
#   field_grant contains {"effect": "reveal", "reason": "billing sees names"} if {
#       input.action in read_actions
#       "billing" in roles
#       input.purpose == "billing"
#       input.resource.class == "name"
#   }
#
# Rules may test input.resource.subject ("a customer may read their own
# record": input.principal.attributes.subject == input.resource.subject).
# piivault notices that and caches such decisions per subject; this file does
# not, so its decisions are cached per role, purpose, event type, path and
# class only.
package piivault.authz

# ---------------------------------------------------------------------------
# Roles and actions
# ---------------------------------------------------------------------------

# The principal's roles as a set.
roles := {r | some r in input.principal.roles}

# Reading a stream and subscribing to the log return the same events, so
# they are governed by the same rules.
read_actions := {"read", "subscribe"}

# Which role may do which action, and for which purposes. "*" means any
# purpose, including none; otherwise the request's purpose must be listed.
#
#   service    the application itself: it appends events and reads them
#              back, seeing tokens only (it already had the values when it
#              appended; a token is enough to join on).
#   support    reads for purpose "support" (field rules below decide what
#              it sees).
#   billing    reads for purpose "billing".
#   analytics  reads for purpose "analytics", tokens only.
#   dpo        the data protection officer: erases a subject, exports
#              everything held about one (access and portability requests),
#              reads the audit trail. Those actions are their own purpose.
#   admin      manages event-type schemas and other administration. It
#              does not read personal data.
role_actions := {
	"service": {"append": {"*"}, "read": {"*"}, "subscribe": {"*"}},
	"support": {"read": {"support"}, "subscribe": {"support"}},
	"billing": {"read": {"billing"}, "subscribe": {"billing"}},
	"analytics": {"read": {"analytics"}, "subscribe": {"analytics"}},
	"dpo": {"erase": {"*"}, "export": {"*"}, "audit": {"*"}},
	"admin": {"admin": {"*"}},
}

# Every role this policy gives a right to; `piivault token create` refuses
# any other role name (a misspelt role would silently grant nothing).
known_roles := {r | some r, _ in role_actions} | {r | some r, _ in field_effects}

purpose_allowed(purposes) if "*" in purposes

purpose_allowed(purposes) if input.purpose in purposes

request_allow contains reason if {
	some role in roles
	purposes := role_actions[role][input.action]
	purpose_allowed(purposes)
	reason := sprintf("role %s may %s", [role, input.action])
}

# An action this policy does not know is never allowed (piivault refuses such
# input before asking; this is the policy's own guard). The rule does not test
# input.principal.id, and neither does any other rule here: so piivault
# shares cached decisions between principals with the same roles.
known_actions := {"append", "read", "subscribe", "erase", "export", "audit", "admin"}

request_deny contains "unknown action" if not input.action in known_actions

# When a role may do the action but not for this purpose, say so: a clearer
# reason than plain default deny.
purpose_hints contains hint if {
	count(request_allow) == 0
	some role in roles
	purposes := role_actions[role][input.action]
	not purpose_allowed(purposes)
	hint := sprintf("role %s may %s only for purpose %s, not for purpose %q", [role, input.action, concat(" or ", sort(purposes)), input.purpose])
}

# The request decision. Denials win over allows; no allow is a deny.
authorize := {"allow": false, "reason": concat("; ", sort(request_deny))} if {
	count(request_deny) > 0
} else := {"allow": true, "reason": concat("; ", sort(request_allow))} if {
	count(request_allow) > 0
} else := {"allow": false, "reason": concat("; ", sort(purpose_hints))} if {
	count(purpose_hints) > 0
} else := {"allow": false, "reason": sprintf("default deny: no role in %v may %s", [sort(roles), input.action])}

# ---------------------------------------------------------------------------
# Fields
# ---------------------------------------------------------------------------

# What each role sees of each PII class when it reads, per purpose.
# "*" as a purpose: any purpose; "*" as a class: every class. A class that is
# not listed is denied: the field reads as "denied" and not even the token is
# given out.
#
#   support, purpose support:  names and emails revealed, phones masked.
#   billing, purpose billing:  addresses revealed.
#   analytics, purpose analytics: every class as a token (joinable, not
#              readable).
#   service, any purpose:      every class as a token.
field_effects := {
	"support": {"support": {"name": "reveal", "email": "reveal", "phone": "mask"}},
	"billing": {"billing": {"address": "reveal"}},
	"analytics": {"analytics": {"*": "tokenize"}},
	"service": {"*": {"*": "tokenize"}},
}

field_grant contains {"effect": effect, "reason": reason} if {
	input.action in read_actions
	some role in input.principal.roles
	some purpose in [input.purpose, "*"]
	some class in [input.resource.class, "*"]
	effect := field_effects[role][purpose][class]
	reason := sprintf("role %s, purpose %s: %s %s", [role, input.purpose, effect, input.resource.class])
}

# An export (access or portability request) hands the data subject
# everything held about them: the dpo sees every class revealed.
field_grant contains {"effect": "reveal", "reason": "dpo export reveals every class"} if {
	input.action == "export"
	"dpo" in roles
}

# A field without a class is a schema error upstream; never reveal it.
field_deny contains "field has no class" if input.resource.class == ""

# From least to most revealing; the most revealing grant wins.
effect_order := ["deny", "tokenize", "mask", "reveal"]

effect_rank := {e: i | some i, e in effect_order}

field := {"effect": "deny", "reason": concat("; ", sort(field_deny))} if {
	count(field_deny) > 0
} else := {"effect": effect_order[top], "reason": concat("; ", sort(reasons))} if {
	count(field_grant) > 0
	top := max({effect_rank[g.effect] | some g in field_grant})
	reasons := {g.reason | some g in field_grant; effect_rank[g.effect] == top}
} else := {"effect": "deny", "reason": sprintf("default deny: no role in %v may see class %s for purpose %q", [sort(roles), input.resource.class, input.purpose])}
