// Package web holds what a browser loads from a node: HTML pages made
// with html/template from files embedded in the binary, styled with
// plain CSS and charted with inline SVG. No JavaScript and no build
// step: the node serves the page as it renders it.
//
// The package only renders: it takes plain values (Dashboard) and knows
// nothing of stores or engines, so query can call it and tests can feed
// it directly. html/template escapes every value it prints, so names,
// messages and ids from a store's data cannot inject markup.
package web

import (
	"embed"
	"fmt"
	"html/template"
	"io"
	"time"
)

//go:embed dashboard.html
var files embed.FS

var dashboardTmpl = template.Must(template.New("dashboard.html").Funcs(template.FuncMap{
	"f1": func(v float64) string { return fmt.Sprintf("%.1f", v) },
}).ParseFS(files, "dashboard.html"))

// Dashboard is what the data health page shows for one store.
type Dashboard struct {
	Store     string
	Generated time.Time
	Checks    []Check
	Charts    []Chart
	// Syncs are the store's latest sync runs, newest first; SyncNote
	// says why there are none (no sync configured).
	Syncs    []SyncRun
	SyncNote string
}

// Check is one data health check as the API reports it.
type Check struct {
	Name    string
	State   string // green, yellow or red
	Value   string
	Message string
}

// SyncRun is one sync run in the dashboard's table.
type SyncRun struct {
	ID, State         string
	Started, Finished string
	Counts            string
	Error             string
}

// Chart is a bar chart of one count per day. NewChart lays it out.
type Chart struct {
	Title         string
	Width, Height int
	Max, Total    int64
	Bars          []Bar
	// FirstLabel and LastLabel name the first and the last bar under
	// the axis, at LabelY.
	FirstLabel, LastLabel string
	LabelY                int
}

// Bar is one bar of a Chart, in the SVG's coordinates.
type Bar struct {
	Label      string
	Value      int64
	X, Y, W, H float64
}

// Chart geometry: the SVG's size and the room left for the axis labels.
const (
	chartWidth  = 640
	chartHeight = 160
	chartBottom = 18 // labels under the bars
)

// NewChart lays out one bar per value (labels[i] names values[i]), the
// tallest reaching the top. A day without a count still gets its slot,
// so gaps show.
func NewChart(title string, labels []string, values []int64) Chart {
	c := Chart{Title: title, Width: chartWidth, Height: chartHeight, LabelY: chartHeight - 5}
	for _, v := range values {
		c.Max = max(c.Max, v)
		c.Total += v
	}
	if len(values) == 0 {
		return c
	}
	slot := float64(chartWidth) / float64(len(values))
	room := float64(chartHeight - chartBottom)
	for i, v := range values {
		h := 0.0
		if c.Max > 0 {
			h = room * float64(v) / float64(c.Max)
		}
		label := ""
		if i < len(labels) {
			label = labels[i]
		}
		c.Bars = append(c.Bars, Bar{Label: label, Value: v, X: float64(i)*slot + 1, Y: room - h, W: max(slot-2, 1), H: h})
	}
	c.FirstLabel, c.LastLabel = c.Bars[0].Label, c.Bars[len(c.Bars)-1].Label
	return c
}

// Render writes the dashboard page.
func Render(w io.Writer, d Dashboard) error {
	return dashboardTmpl.Execute(w, d)
}
