package vault

// String returns the state's name, as tests and logs print it.
func (s State) String() string {
	switch s {
	case Found:
		return "found"
	case Erased:
		return "erased"
	case Unknown:
		return "unknown"
	case Expired:
		return "expired"
	default:
		return "invalid"
	}
}
