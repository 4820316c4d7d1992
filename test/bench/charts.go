package main

import (
	"fmt"
	"image/color"
	"path/filepath"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
)

// writeCharts draws, per scenario, pods bound over time for every run, and
// the runs' $/hour against the LP bound and the fixed-pool baseline. It
// returns the file names by scenario.
func writeCharts(dir string, r *Results) (map[string][]string, error) {
	out := map[string][]string{}
	for _, s := range r.Scenarios {
		if name, err := boundChart(dir, s); err != nil {
			return nil, err
		} else if name != "" {
			out[s.Name] = append(out[s.Name], name)
		}
		if name, err := costChart(dir, s); err != nil {
			return nil, err
		} else if name != "" {
			out[s.Name] = append(out[s.Name], name)
		}
	}
	return out, nil
}

func boundChart(dir string, s *ScenarioResult) (string, error) {
	p := plot.New()
	p.Title.Text = fmt.Sprintf("%s: pods bound over time", s.Name)
	p.X.Label.Text = "seconds since the workload was applied"
	p.Y.Label.Text = "pods bound"
	lines := 0
	for i, run := range s.Runs {
		if len(run.Timeline) == 0 {
			continue
		}
		xy := make(plotter.XYs, len(run.Timeline))
		for j, sample := range run.Timeline {
			xy[j].X, xy[j].Y = sample.Seconds, float64(sample.Bound)
		}
		l, err := plotter.NewLine(xy)
		if err != nil {
			return "", err
		}
		l.Color = plotutil.Color(i)
		l.Width = vg.Points(1.5)
		p.Add(l)
		p.Legend.Add(latencyName(run), l)
		lines++
	}
	if lines == 0 {
		return "", nil
	}
	p.Legend.Top, p.Legend.Left = false, false
	p.Add(plotter.NewGrid())
	name := s.Name + "-pods-bound.svg"
	return name, p.Save(7*vg.Inch, 4*vg.Inch, filepath.Join(dir, name))
}

func costChart(dir string, s *ScenarioResult) (string, error) {
	if s.Plan == nil {
		return "", nil
	}
	type bar struct {
		label string
		value float64
	}
	bars := []bar{{"LP bound", s.Plan.LowerBound.PerHour}, {"offline plan", s.Plan.PerHour}}
	for _, run := range s.Runs {
		if run.Fleet.PerHour > 0 {
			bars = append(bars, bar{latencyName(run), run.Fleet.PerHour})
		}
	}
	bars = append(bars, bar{"DS2_v2 pool", s.Plan.Baseline.PerHour})
	values := make(plotter.Values, len(bars))
	labels := make([]string, len(bars))
	for i, b := range bars {
		values[i], labels[i] = b.value, b.label
	}
	p := plot.New()
	p.Title.Text = fmt.Sprintf("%s: fleet $/hour against the LP bound and the fixed-pool baseline", s.Name)
	p.Y.Label.Text = "USD per hour"
	chart, err := plotter.NewBarChart(values, vg.Points(40))
	if err != nil {
		return "", err
	}
	chart.Color = color.RGBA{R: 0x1f, G: 0x77, B: 0xb4, A: 0xff}
	p.Add(chart)
	p.NominalX(labels...)
	p.Add(plotter.NewGrid())
	name := s.Name + "-cost.svg"
	return name, p.Save(7*vg.Inch, 4*vg.Inch, filepath.Join(dir, name))
}
