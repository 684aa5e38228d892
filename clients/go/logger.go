package cattail

import "log"

// LogLevel orders log records.
type LogLevel int

const (
	LevelDebug LogLevel = iota
	LevelInfo
	LevelWarn
	LevelError
)

func (l LogLevel) String() string {
	switch l {
	case LevelDebug:
		return "debug"
	case LevelInfo:
		return "info"
	case LevelWarn:
		return "warn"
	}
	return "error"
}

// Logger receives the client's structured log records: a message and alternating key/value
// pairs, as log/slog's Logger.Log takes them (a slog.Logger is wrapped in three lines).
type Logger interface {
	Log(level LogLevel, msg string, keyvals ...interface{})
}

type nopLogger struct{}

func (nopLogger) Log(LogLevel, string, ...interface{}) {}

// StdLogger writes records at or above min through a standard library *log.Logger.
func StdLogger(l *log.Logger, min LogLevel) Logger { return stdLogger{l: l, min: min} }

type stdLogger struct {
	l   *log.Logger
	min LogLevel
}

func (s stdLogger) Log(level LogLevel, msg string, keyvals ...interface{}) {
	if level < s.min {
		return
	}
	line := level.String() + " " + msg
	for i := 0; i+1 < len(keyvals); i += 2 {
		line += " " + toString(keyvals[i]) + "=" + toString(keyvals[i+1])
	}
	s.l.Print(line)
}
