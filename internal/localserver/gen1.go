package localserver

import "net/http"

// Generation 1 of the API: POST /activate-key, /deactivate-key and
// /get-key, answering in snake_case.

// The answers of generation 1.

type activateV1Answer struct {
	Code          int    `json:"code"`
	Message       string `json:"message"`
	LicenseeName  string `json:"licensee_name"`
	LicenseeEmail string `json:"licensee_email"`
}

// licenseV1 is the license object of a generation-1 get-key answer.
type licenseV1 struct {
	licenseFieldsV1
	Devices []deviceV1 `json:"devices"`
}

// licenseFieldsV1 is licenseFields in snake_case.
type licenseFieldsV1 struct {
	ID             string  `json:"id"`
	Key            string  `json:"key"`
	ProductID      string  `json:"product_id"`
	MaxActivations *int    `json:"max_activations"`
	Activations    int     `json:"activations"`
	Activated      bool    `json:"activated"`
	ExpirationDate *string `json:"expiration_date"`
}

// deviceV1 is deviceFields in snake_case.
type deviceV1 struct {
	HostID         string  `json:"host_id"`
	DeviceTag      *string `json:"device_tag"`
	IPAddress      string  `json:"ip_address"`
	ActivationTime string  `json:"activation_time"`
}

// licenseV1Of converts a license and its devices to generation 1.
func licenseV1Of(l licenseFields, devices []deviceFields) licenseV1 {
	return licenseV1{licenseFieldsV1(l), convertAll(devices, func(d deviceFields) deviceV1 { return deviceV1(d) })}
}

// activateKeyV1 answers POST /activate-key.
func (s *Server) activateKeyV1(r *http.Request) (any, error) {
	p, err := decodeKeyParams(r, activateFields)
	if err != nil {
		return nil, err
	}
	res, err := s.activate(p, clientIP(r))
	if err != nil {
		return nil, err
	}
	name, email := res.licensee()
	return activateV1Answer{Code: 0, Message: messageLicenseValid, LicenseeName: name, LicenseeEmail: email}, nil
}

// deactivateKeyV1 answers POST /deactivate-key. Unlike newer servers it
// does not report devicesRemoved.
func (s *Server) deactivateKeyV1(r *http.Request) (any, error) {
	p, err := decodeKeyParams(r, deactivateFields)
	if err != nil {
		return nil, err
	}
	res, err := s.deactivate(p)
	if err != nil {
		return nil, err
	}
	return messageBody{Message: res.message(), Code: 0}, nil
}

// getKeyV1 answers POST /get-key.
func (s *Server) getKeyV1(r *http.Request) (any, error) {
	p, err := decodeKeyParams(r, getKeyFields)
	if err != nil {
		return nil, err
	}
	return getKey(s, p, licenseV1Of)
}
