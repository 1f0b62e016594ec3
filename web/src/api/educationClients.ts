import { createClient } from "@connectrpc/connect";
import { AuthoringService } from "@gen/trading/education/v1/authoring_service_pb";
import { CatalogService } from "@gen/trading/education/v1/catalog_service_pb";
import { CertificateService } from "@gen/trading/education/v1/certificate_service_pb";
import { LearningService } from "@gen/trading/education/v1/learning_service_pb";
import { transport } from "./transport";

/** trading.education.v1.CatalogService (public). */
export const catalogClient = createClient(CatalogService, transport);
/** trading.education.v1.AuthoringService (roles instructor, admin). */
export const authoringClient = createClient(AuthoringService, transport);
/** trading.education.v1.LearningService (signed in; pro courses need plan pro). */
export const learningClient = createClient(LearningService, transport);
/** trading.education.v1.CertificateService (ListCertificates signed in; VerifyCertificate public). */
export const certificateClient = createClient(CertificateService, transport);
