package main

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
)

// Metric is one figure of a scenario, for the bridge and (when the floor can do it) the floor.
type Metric struct {
	Name   string   `json:"name"`
	Unit   string   `json:"unit"`
	Bridge float64  `json:"bridge"`
	Floor  *float64 `json:"floor,omitempty"`
	Ratio  *float64 `json:"ratio,omitempty"` // bridge / floor
	// Peers holds the figure of each peer that has it, PeerRatios bridge / that figure.
	Peers      map[string]float64 `json:"peers,omitempty"`
	PeerRatios map[string]float64 `json:"peer_ratios,omitempty"`
}

// Check is one target of the issue, met or not, with the numbers it compared.
type Check struct {
	Target string `json:"target"`
	Met    bool   `json:"met"`
	Detail string `json:"detail"`
}

// Result is one scenario's outcome.
type Result struct {
	Scenario string         `json:"scenario"`
	Title    string         `json:"title"`
	Params   map[string]any `json:"params"`
	Peers    []string       `json:"peers,omitempty"` // the peer columns, in order
	Metrics  []Metric       `json:"metrics"`
	Checks   []Check        `json:"checks"`
	Notes    []string       `json:"notes,omitempty"`
}

// Report is the whole output of one run.
type Report struct {
	Machine Machine  `json:"machine"`
	Results []Result `json:"results"`
}

// Machine describes where the figures were taken.
type Machine struct {
	CPUs      int    `json:"cpus"`
	Model     string `json:"cpu_model"`
	MemoryMiB int    `json:"memory_mib"`
	Go        string `json:"go"`
	OS        string `json:"os"`
}

// add appends a metric; floor < 0 with noFloor means the floor has no such figure.
func (r *Result) add(name, unit string, bridge float64, floor *float64) {
	m := Metric{Name: name, Unit: unit, Bridge: round(bridge)}
	if floor != nil {
		f := round(*floor)
		m.Floor = &f
		if *floor != 0 {
			ratio := round(bridge / *floor)
			m.Ratio = &ratio
		}
	}
	r.Metrics = append(r.Metrics, m)
}

// row adds a metric from the figure of each target that has it, by name: "bridge", "floor"
// and the peers of r.Peers.
func (r *Result) row(name, unit string, v map[string]float64) {
	var fp *float64
	if fl, ok := v["floor"]; ok {
		fp = &fl
	}
	r.add(name, unit, v["bridge"], fp)
	m := &r.Metrics[len(r.Metrics)-1]
	for _, p := range r.Peers {
		x, ok := v[p]
		if !ok {
			continue
		}
		if m.Peers == nil {
			m.Peers, m.PeerRatios = map[string]float64{}, map[string]float64{}
		}
		m.Peers[p] = round(x)
		if x != 0 {
			m.PeerRatios[p] = round(v["bridge"] / x)
		}
	}
}

func (r *Result) check(target string, met bool, format string, args ...any) {
	r.Checks = append(r.Checks, Check{Target: target, Met: met, Detail: fmt.Sprintf(format, args...)})
}

func round(v float64) float64 {
	if v == 0 || math.IsNaN(v) || math.IsInf(v, 0) {
		return v
	}
	digits := 3 - int(math.Floor(math.Log10(math.Abs(v))))
	p := math.Pow(10, float64(max(digits, 0)))
	return math.Round(v*p) / p
}

// quantiles returns the p-quantiles (0..1) of µs samples, in milliseconds; the input is sorted
// in place.
func quantiles(us []int32, ps ...float64) []float64 {
	out := make([]float64, len(ps))
	if len(us) == 0 {
		return out
	}
	slices.Sort(us)
	for i, p := range ps {
		k := int(math.Ceil(p*float64(len(us)))) - 1
		out[i] = float64(us[min(max(k, 0), len(us)-1)]) / 1000
	}
	return out
}

// writeJSON writes the report as indented JSON.
func (rep *Report) writeJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(rep); err != nil {
		return fmt.Errorf("write the JSON report: %w", err)
	}
	return nil
}

// writeMarkdown writes one table per scenario: metric, bridge, floor, ratio; then the checks.
func (rep *Report) writeMarkdown(w io.Writer) error {
	var b strings.Builder
	m := rep.Machine
	fmt.Fprintf(&b, "Machine: %d CPUs (%s), %d MiB, %s, %s\n\n", m.CPUs, m.Model, m.MemoryMiB, m.Go, m.OS)
	for _, r := range rep.Results {
		fmt.Fprintf(&b, "### (%s) %s\n\n", r.Scenario, r.Title)
		keys := make([]string, 0, len(r.Params))
		for k := range r.Params {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		var ps []string
		for _, k := range keys {
			ps = append(ps, fmt.Sprintf("%s=%v", k, r.Params[k]))
		}
		fmt.Fprintf(&b, "Parameters: %s\n\n", strings.Join(ps, ", "))
		head, rule := "| figure | bridge | floor |", "|---|---:|---:|"
		for _, p := range r.Peers {
			head, rule = head+" "+peerTitle(p)+" |", rule+"---:|"
		}
		head, rule = head+" bridge / floor |", rule+"---:|"
		for _, p := range r.Peers {
			head, rule = head+" bridge / "+peerTitle(p)+" |", rule+"---:|"
		}
		b.WriteString(head + "\n" + rule + "\n")
		for _, x := range r.Metrics {
			floor, ratio := "n/a", ""
			if x.Floor != nil {
				floor = num(*x.Floor)
			}
			if x.Ratio != nil {
				ratio = num(*x.Ratio) + "x"
			}
			name := x.Name
			if x.Unit != "" {
				name += " (" + x.Unit + ")"
			}
			cells := []string{name, num(x.Bridge), floor}
			for _, p := range r.Peers {
				cell := "n/a"
				if v, ok := x.Peers[p]; ok {
					cell = num(v)
				}
				cells = append(cells, cell)
			}
			cells = append(cells, ratio)
			for _, p := range r.Peers {
				cell := ""
				if v, ok := x.PeerRatios[p]; ok {
					cell = num(v) + "x"
				}
				cells = append(cells, cell)
			}
			fmt.Fprintf(&b, "| %s |\n", strings.Join(cells, " | "))
		}
		b.WriteString("\n")
		for _, c := range r.Checks {
			mark := "MET"
			if !c.Met {
				mark = "MISSED"
			}
			fmt.Fprintf(&b, "- **%s** %s: %s\n", mark, c.Target, c.Detail)
		}
		for _, n := range r.Notes {
			fmt.Fprintf(&b, "- %s\n", n)
		}
		b.WriteString("\n")
	}
	_, err := io.WriteString(w, b.String())
	if err != nil {
		return fmt.Errorf("write the Markdown report: %w", err)
	}
	return nil
}

// peerTitle is a peer's column title.
func peerTitle(p string) string {
	switch p {
	case peerR3labs:
		return "r3labs/sse"
	case peerCentrifugo:
		return "Centrifugo"
	}
	return p
}

func num(v float64) string {
	if v == math.Trunc(v) && math.Abs(v) < 1e15 {
		return fmt.Sprintf("%.0f", v)
	}
	return fmt.Sprintf("%g", v)
}
