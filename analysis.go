package qgate

// Severity ranks risk findings. The zero value is SeverityNone.
type Severity int

const (
	SeverityNone Severity = iota
	SeverityLow
	SeverityMedium
	SeverityHigh
	SeverityCritical
)

var severityNames = [...]string{"none", "low", "medium", "high", "critical"}

func (s Severity) String() string {
	if s < 0 || int(s) >= len(severityNames) {
		return "unknown"
	}
	return severityNames[s]
}

// ParseSeverity is the inverse of Severity.String.
func ParseSeverity(s string) (Severity, bool) {
	for i, n := range severityNames {
		if n == s {
			return Severity(i), true
		}
	}
	return SeverityNone, false
}

func (s Severity) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

func (s *Severity) UnmarshalText(b []byte) error {
	v, ok := ParseSeverity(string(b))
	if !ok {
		return Errorf(EINVALID, "unknown severity %q", b)
	}
	*s = v
	return nil
}

// Finding is one risk observation about a payload. Start and End are byte
// offsets into the payload (SQL text, or the HTTP body/path) so that a
// reviewer's view can highlight them; both are 0 when the finding is about
// the payload as a whole.
type Finding struct {
	Code     string   `json:"code"`
	Severity Severity `json:"severity"`
	Message  string   `json:"message"`
	Start    int      `json:"start"`
	End      int      `json:"end"`
}

// Risk summarises findings: Level is the highest finding's severity.
type Risk struct {
	Level    Severity  `json:"level"`
	Findings []Finding `json:"findings"`
}

// NewRisk builds a Risk from findings.
func NewRisk(findings []Finding) Risk {
	r := Risk{Findings: findings}
	if r.Findings == nil {
		r.Findings = []Finding{}
	}
	for _, f := range findings {
		if f.Severity > r.Level {
			r.Level = f.Severity
		}
	}
	return r
}

// StatementKind classifies one SQL statement.
type StatementKind string

const (
	KindSelect      StatementKind = "select"
	KindInsert      StatementKind = "insert"
	KindUpdate      StatementKind = "update"
	KindDelete      StatementKind = "delete"
	KindMerge       StatementKind = "merge"
	KindDDL         StatementKind = "ddl"
	KindCopy        StatementKind = "copy"
	KindCall        StatementKind = "call"
	KindDo          StatementKind = "do"
	KindSet         StatementKind = "set"
	KindTransaction StatementKind = "transaction"
	KindGrant       StatementKind = "grant"
	KindUtility     StatementKind = "utility"
	KindOther       StatementKind = "other"
)

// IsWrite reports whether statements of this kind change data or schema
// whatever their details (a select can still write through a function or a
// CTE; that is captured by Statement.ReadOnly, not by the kind).
func (k StatementKind) IsWrite() bool {
	switch k {
	case KindInsert, KindUpdate, KindDelete, KindMerge, KindDDL, KindGrant:
		return true
	}
	return false
}

// Statement is one parsed SQL statement. Start and End are byte offsets of
// the statement within SQLAnalysis.Text.
type Statement struct {
	Kind      StatementKind `json:"kind"`
	Command   string        `json:"command"`
	Tables    []string      `json:"tables"`
	Functions []string      `json:"functions"`
	HasWhere  bool          `json:"has_where"`
	HasLimit  bool          `json:"has_limit"`
	ReadOnly  bool          `json:"read_only"`
	Start     int           `json:"start"`
	End       int           `json:"end"`
}

// SQLAnalysis is what the SQL analyzer learned from one query string, which
// may hold several statements. When the text could not be parsed, ParseError
// holds the parser's message, Statements is empty, ReadOnly is false, and
// the gate denies the request.
type SQLAnalysis struct {
	Text        string      `json:"text"`
	Fingerprint string      `json:"fingerprint"`
	Statements  []Statement `json:"statements"`
	Kinds       []string    `json:"kinds"`
	Tables      []string    `json:"tables"`
	Functions   []string    `json:"functions"`
	ReadOnly    bool        `json:"read_only"`
	Writes      bool        `json:"writes"`
	DDL         bool        `json:"ddl"`
	Multi       bool        `json:"multi"`
	ParseError  string      `json:"parse_error,omitempty"`
	Findings    []Finding   `json:"findings"`
}

// SQLAnalyzer turns SQL text into an analysis. It never returns an error for
// bad SQL: that is an analysis with ParseError set. Implementations are safe
// for concurrent use.
type SQLAnalyzer interface {
	AnalyzeSQL(text string) *SQLAnalysis
}

// HTTPAnalysis is what the HTTP analyzer learned from one request.
//
// Path is the normalised path: it is what policies see and exactly what is
// forwarded upstream. Headers has lower-case names; repeated headers are
// joined with ", ". Body is the decoded JSON body, or nil.
type HTTPAnalysis struct {
	Method   string              `json:"method"`
	Path     string              `json:"path"`
	RawQuery string              `json:"raw_query"`
	Query    map[string][]string `json:"query"`
	Headers  map[string]string   `json:"headers"`
	Body     any                 `json:"body"`
	BodySize int                 `json:"body_size"`
	GraphQL  GraphQLAnalysis     `json:"graphql"`
	// Ambiguous is set when the path could not be normalised to a single
	// meaning (encoded separators, NUL, dot segments left after decoding);
	// such requests are always denied.
	Ambiguous bool      `json:"ambiguous"`
	Findings  []Finding `json:"findings"`
}

// GraphQLAnalysis describes a GraphQL request: every operation that the
// request can execute (all of them in a batch; the named one when
// operationName is given).
type GraphQLAnalysis struct {
	Present    bool               `json:"present"`
	ReadOnly   bool               `json:"read_only"`
	Operations []GraphQLOperation `json:"operations"`
	ParseError string             `json:"parse_error,omitempty"`
}

// GraphQLOperation is one executable GraphQL operation: its type (query,
// mutation, subscription), its name (may be empty) and its top-level fields
// after fragment expansion.
type GraphQLOperation struct {
	Type   string   `json:"type"`
	Name   string   `json:"name"`
	Fields []string `json:"fields"`
}
