package plan

import (
	"google.golang.org/protobuf/reflect/protoreflect"

	"slipstream/scheduler/planpb"
)

// A query's plan is a tree of messages (nodes, expressions, literals).
// Real ones are a few dozen levels deep and a few thousand messages; a
// tree far beyond that is refused before planning walks it, so that no
// plan can exhaust the planner's stack or memory (each rule and each
// EXPLAIN walks the tree again).
const (
	maxPlanDepth    = 2000
	maxPlanMessages = 200_000
)

// checkShape refuses a query nested deeper than maxPlanDepth messages or
// holding more than maxPlanMessages.
func checkShape(q *planpb.Query) error {
	count := 0
	var walk func(m protoreflect.Message, depth int) error
	walk = func(m protoreflect.Message, depth int) error {
		count++
		if depth > maxPlanDepth {
			return invalidf("the query's plan is nested more than %d levels deep; write it with fewer nested steps (a loop that wraps a frame again and again?)", maxPlanDepth)
		}
		if count > maxPlanMessages {
			return invalidf("the query's plan has more than %d parts (nodes, expressions, values); split it into smaller queries", maxPlanMessages)
		}
		var err error
		m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
			if fd.Message() == nil {
				return true
			}
			switch {
			case fd.IsList():
				l := v.List()
				for i := 0; i < l.Len() && err == nil; i++ {
					err = walk(l.Get(i).Message(), depth+1)
				}
			case fd.IsMap():
				v.Map().Range(func(_ protoreflect.MapKey, mv protoreflect.Value) bool {
					err = walk(mv.Message(), depth+1)
					return err == nil
				})
			default:
				err = walk(v.Message(), depth+1)
			}
			return err == nil
		})
		return err
	}
	return walk(q.ProtoReflect(), 0)
}
