package httpapi

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/piivault/piivault/policy"
)

// PolicyDecisionMetrics returns a policy.Options.DecisionLog hook that counts
// every decision of the engine in reg as
// piivault_policy_decisions_evaluated_total{kind,action,outcome}, where
// outcome is allow or deny for requests and the effect for fields, plus
// error. next, if not nil, is called after counting (the decision log).
func PolicyDecisionMetrics(reg prometheus.Registerer, next func(policy.DecisionRecord)) func(policy.DecisionRecord) {
	c := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "piivault_policy_decisions_evaluated_total",
		Help: "Policy engine decisions (requests and fields) by kind, action and outcome.",
	}, []string{"kind", "action", "outcome"})
	reg.MustRegister(c)
	// Every decision of every read page's fields comes through here: the
	// series are looked up once, by index.
	var series [len(decisionKinds)][len(decisionActions)][len(decisionOutcomes)]*counterSeries
	for k, kind := range decisionKinds {
		for a, action := range decisionActions {
			for o, outcome := range decisionOutcomes {
				series[k][a][o] = newCounterSeries(c, kind, action, outcome)
			}
		}
	}
	return func(r policy.DecisionRecord) {
		outcome := 1 // deny
		switch {
		case r.Error != "":
			outcome = 2
		case r.Kind == policy.KindField && r.Decision.Effect.Valid():
			outcome = effectIndex(r.Decision.Effect)
		case r.Decision.Allow:
			outcome = 0
		}
		kind := 2 // other
		switch r.Kind {
		case policy.KindRequest:
			kind = 0
		case policy.KindField:
			kind = 1
		}
		series[kind][actionIndex(r.Action)][outcome].get().Inc()
		if next != nil {
			next(r)
		}
	}
}

// The label values of piivault_policy_decisions_evaluated_total.
var (
	decisionKinds   = [...]string{string(policy.KindRequest), string(policy.KindField), "other"}
	decisionActions = [...]string{string(policy.ActionAppend), string(policy.ActionRead), string(policy.ActionSubscribe),
		string(policy.ActionErase), string(policy.ActionExport), string(policy.ActionAudit), string(policy.ActionAdmin), "other"}
	decisionOutcomes = [...]string{"allow", "deny", "error",
		string(policy.EffectReveal), string(policy.EffectMask), string(policy.EffectTokenize)}
)

func actionIndex(a policy.Action) int {
	for i, s := range decisionActions[:len(decisionActions)-1] {
		if string(a) == s {
			return i
		}
	}
	return len(decisionActions) - 1
}

// effectIndex returns the index in decisionOutcomes of a valid effect
// (deny is the request outcome's deny).
func effectIndex(e policy.Effect) int {
	switch e {
	case policy.EffectReveal:
		return 3
	case policy.EffectMask:
		return 4
	case policy.EffectTokenize:
		return 5
	}
	return 1
}
