package streamtest

// Delivery is what a run delivered compared with what the tenant holds: the keys never
// delivered, those delivered more than once, and those the tenant does not hold.
type Delivery struct {
	Lost, Twice, Unknown []string
}

// CompareDelivery compares the keys a run delivered (got, repeats included) with truth (each
// key the tenant holds, once).
func CompareDelivery(truth, got []string) Delivery {
	count := make(map[string]int, len(got))
	for _, k := range got {
		count[k]++
	}
	var d Delivery
	for _, k := range truth {
		switch count[k] {
		case 0:
			d.Lost = append(d.Lost, k)
		case 1:
		default:
			d.Twice = append(d.Twice, k)
		}
		delete(count, k)
	}
	for k := range count {
		d.Unknown = append(d.Unknown, k)
	}
	return d
}
