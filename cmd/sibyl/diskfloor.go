package main

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/sibylhq/sibyl/shard/kv"
)

// floorFlag is --min-free-disk: a size (1GiB), a share of the disk (5%),
// both (1GiB,5%: the smaller applies), or 0 (off).
type floorFlag struct{ f *kv.Floor }

func (v floorFlag) String() string {
	if v.f == nil {
		return ""
	}
	return v.f.String()
}

func (v floorFlag) Type() string { return "size|percent" }

func (v floorFlag) Set(s string) error {
	var fl kv.Floor
	for part := range strings.SplitSeq(s, ",") {
		part = strings.TrimSpace(part)
		switch {
		case part == "0" || part == "off":
		case strings.HasSuffix(part, "%"):
			p, err := strconv.ParseFloat(strings.TrimSuffix(part, "%"), 64)
			if err != nil {
				return fmt.Errorf("%q is not a percentage like 5%%", part)
			}
			fl.Percent = p
		default:
			n, err := parseBytes(part)
			if err != nil {
				return err
			}
			fl.Bytes = uint64(n)
		}
	}
	if err := fl.Validate(); err != nil {
		return err
	}
	*v.f = fl
	return nil
}
