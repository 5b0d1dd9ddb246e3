package localserver

import (
	"slices"
	"time"
)

// activationTimePrecision is the precision of stored activation times; it
// matches the millisecond timestamps of the real API.
const activationTimePrecision = time.Millisecond

// activation is the result of a successful activation.
type activation struct {
	Customer *Customer // the licensee, or nil
	Device   Device    // the device holding the seat
	Added    bool      // false when the host already held a seat
}

// deactivation is the result of a successful deactivation.
type deactivation struct {
	All     bool // every device was removed
	Removed int  // number of devices removed
}

// licenseView is a copy of a license's state, safe to use without a lock.
type licenseView struct {
	LicenseSeed
	ID        string
	ProductID string
	Devices   []Device // in activation order, never nil
}

// activate gives hostID a seat of the license. Re-activating a host that
// already holds a seat changes nothing and succeeds, even when the license
// is full.
func (s *Server) activate(p keyParams, ip string) (activation, error) {
	now := s.now()
	var res activation
	err := s.update(func() (bool, error) {
		l, err := s.lookup(p.ProductID, p.LicenseKey)
		if err != nil {
			return false, err
		}
		if err := l.usable(now); err != nil {
			return false, err
		}
		res.Customer = clonePtr(l.Customer)
		if i := l.deviceIndex(p.HostID); i >= 0 {
			res.Device = l.devices[i]
			return false, nil
		}
		if l.full() {
			return false, errLimitReached
		}
		res.Device = Device{
			HostID:         p.HostID,
			DeviceTag:      p.DeviceTag,
			IPAddress:      ip,
			ActivationTime: now.UTC().Truncate(activationTimePrecision),
		}
		res.Added = true
		l.devices = append(l.devices, res.Device)
		return true, nil
	})
	return res, err
}

// deactivate frees the seat of p.HostID, or every seat when p.HostID is
// empty. It works on blocked and expired licenses too.
func (s *Server) deactivate(p keyParams) (deactivation, error) {
	var res deactivation
	err := s.update(func() (bool, error) {
		l, err := s.lookup(p.ProductID, p.LicenseKey)
		if err != nil {
			return false, err
		}
		if len(l.devices) == 0 {
			return false, errNotActivated
		}
		if p.HostID == "" {
			res = deactivation{All: true, Removed: len(l.devices)}
			l.devices = nil
			return true, nil
		}
		i := l.deviceIndex(p.HostID)
		if i < 0 {
			return false, errDeviceNotFound
		}
		l.devices = slices.Delete(l.devices, i, i+1)
		res = deactivation{Removed: 1}
		return true, nil
	})
	return res, err
}

// license returns a copy of the state of a product's license key.
func (s *Server) license(productID, key string) (licenseView, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	l, err := s.lookup(productID, key)
	if err != nil {
		return licenseView{}, err
	}
	return licenseView{
		LicenseSeed: cloneLicenseSeed(l.LicenseSeed),
		ID:          l.id(),
		ProductID:   l.productID,
		Devices:     append([]Device{}, l.devices...),
	}, nil
}

// SeatRow is one held seat, as listed by Seats and GET /_local/seats. It
// carries the masked key only.
type SeatRow struct {
	ProductID      string    `json:"product_id"`
	MaskedKey      string    `json:"masked_key"`
	HostID         string    `json:"host_id"`
	DeviceTag      string    `json:"device_tag"`
	IPAddress      string    `json:"ip_address"`
	ActivationTime time.Time `json:"activation_time"`
	MaxActivations *int      `json:"max_activations"` // nil = unlimited
	Blocked        bool      `json:"blocked"`         // the key is blocked: the device keeps its seat, but no new one is activated
}

// Seats returns every held seat, sorted by product, license key and
// activation order. The result is never nil.
func (s *Server) Seats() []SeatRow {
	s.mu.Lock()
	defer s.mu.Unlock()
	rows := []SeatRow{}
	for _, l := range s.sortedLicensesLocked() {
		for _, d := range l.devices {
			rows = append(rows, SeatRow{
				ProductID:      l.productID,
				MaskedKey:      MaskKey(l.Key),
				HostID:         d.HostID,
				DeviceTag:      d.DeviceTag,
				IPAddress:      d.IPAddress,
				ActivationTime: d.ActivationTime,
				MaxActivations: clonePtr(l.MaxActivations),
				Blocked:        l.Blocked,
			})
		}
	}
	return rows
}

// LicenseRow is the summary of one license key, as listed by Licenses and
// GET /_local/licenses. It carries the masked key only.
type LicenseRow struct {
	ProductID      string `json:"product_id"`
	MaskedKey      string `json:"masked_key"`
	MaxActivations *int   `json:"max_activations"` // nil = unlimited
	Activations    int    `json:"activations"`     // seats in use
	Blocked        bool   `json:"blocked"`
}

// Licenses returns every license key, with or without seats, sorted by
// product and license key. The result is never nil.
func (s *Server) Licenses() []LicenseRow {
	s.mu.Lock()
	defer s.mu.Unlock()
	ls := s.sortedLicensesLocked()
	rows := make([]LicenseRow, len(ls))
	for i, l := range ls {
		rows[i] = LicenseRow{
			ProductID:      l.productID,
			MaskedKey:      MaskKey(l.Key),
			MaxActivations: clonePtr(l.MaxActivations),
			Activations:    len(l.devices),
			Blocked:        l.Blocked,
		}
	}
	return rows
}
