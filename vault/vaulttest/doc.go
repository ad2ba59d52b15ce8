// Package vaulttest is the conformance suite for vault.Store: every backend
// runs the same assertions, not its own copy of them.
//
// # Use
//
//	func TestConformance(t *testing.T) {
//		vaulttest.Run(t, func(t *testing.T) vault.Store {
//			s, err := embedded.Open(t.TempDir(), kp, embedded.Options{})
//			if err != nil {
//				t.Fatal(err)
//			}
//			t.Cleanup(func() { s.Close() })
//			return s
//		})
//	}
//
// Open is called once per subtest and must return an empty store whose
// Close the suite may call (a second Close must not panic). Subject IDs are
// random per call, so a backend that cannot start empty (a shared HashiCorp
// Vault) still passes.
//
// # Hooks
//
// RunWith takes a Harness with optional hooks for assertions that need to
// reach under the Store interface: SwapCiphertexts for the tampering test
// and Reopen for persistence. A nil hook skips its subtest with a message.
//
// # Capabilities
//
// The optional methods of vault.Store (unsynced puts, expiry, the blind
// index, the purge queue) are run for every capability the backend's
// Capabilities names; for every other one the suite checks that the method
// answers vault.ErrNotSupported and changes nothing. RunCapabilities runs
// only those subtests.
package vaulttest
