"""Shadow models and promotion: a candidate version served in shadow, compared with the active one
on live scores (Diebold-Mariano), promoted by hot reload."""
